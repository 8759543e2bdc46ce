# index.s - the index: key -> the newest record of the key.
#
# One mapping, shared by the master and every worker (MAP_SHARED, made by the
# master before it forks, so a respawned worker has it too). It is a hash
# table that grows (a split-ordered list, below) for lookups, and an ordered
# list (a skip list, below) for listings, over the same nodes, allocated from
# the free lists of given-back nodes or else a bump pointer. Memory comes as
# nodes are added (the mapping is reserved, not committed).
#
# There are no locks, so no process can die holding one. Every change is one
# atomic instruction, and a process killed between any two instructions leaves
# a consistent index:
#   - a node is filled in completely before `lock cmpxchg` links it into the
#     list; killed before that, the node is only leaked space;
#   - a node never moves; it is unlinked only once dead (its key has nothing on
#     disk), by marking its links first (Harris), and reused only once every
#     worker has waited since (epochs: "Giving nodes back", below), so readers
#     follow the lists without locks;
#   - a key's newest write is the pair (N_SEQ, N_LOC), replaced together by
#     `lock cmpxchg16b` and only by a write with a higher sequence number, so
#     of two writes of a key the later one wins whatever order they land in.
# Readers load N_LOC (one aligned 8-byte load) and never wait.
.text

# index_init: (master) creates the index: a memory file (memfd) the workers
# map for themselves, so its pages count once per process that uses them and
# not in the master, which maps it only to fill it (index_detach).
# Returns rax = 0 or -errno. Clobbers the caller-saved registers.
.globl index_init
index_init:
    lea rdi, [rip + ix_name]
    mov esi, MFD_CLOEXEC                  # workers are forked, never exec'd
    mov eax, SYS_memfd_create
    syscall
    test rax, rax
    js 2f
    mov dword ptr [rip + ix_fd], eax
    mov edi, eax
    mov rsi, IX_MAP_SIZE                  # sparse: pages come as nodes are added
    mov eax, SYS_ftruncate
    syscall
    test rax, rax
    js 2f
    call index_attach
    test rax, rax
    js 2f
    mov rax, qword ptr [rip + ix_base]    # bucket 0's dummy heads the list: all
    mov ecx, IX_NODES / IX_UNIT           # zeros (split-order key 0), two units
    mov dword ptr [rax + IX_BUCKETS], ecx
    add ecx, 2
    mov qword ptr [rax + IX_NEXT], rcx
    mov qword ptr [rax + IX_SO_SIZE], SO_INITIAL
    mov qword ptr [rax + IX_RECLAIM + RC_EPOCH], 1  # (a slot of 0 is a waiting worker)
    mov rdi, qword ptr [rip + ix_base]    # a secret key: buckets cannot be aimed at
    add rdi, IX_HASH_KEY
    mov esi, 16
    jmp random_fill
2:  ret

# index_attach: maps the index (made by index_init) into this process.
# Returns rax = 0 or -errno. Clobbers the caller-saved registers.
.globl index_attach
index_attach:
    xor edi, edi
    mov rsi, IX_MAP_SIZE
    mov edx, PROT_RW
    mov r10d, MAP_SHARED
    mov r8d, dword ptr [rip + ix_fd]
    xor r9d, r9d
    mov eax, SYS_mmap
    syscall
    cmp rax, -4096
    ja 1f
    mov qword ptr [rip + ix_base], rax
    xor eax, eax
1:  ret

# index_detach: (master) unmaps the index once it is filled; the memfd stays
# open for the workers to map. Clobbers the caller-saved registers.
.globl index_detach
index_detach:
    mov rdi, qword ptr [rip + ix_base]
    mov rsi, IX_MAP_SIZE
    mov eax, SYS_munmap                   # cannot fail on a mapping we made
    syscall
    mov qword ptr [rip + ix_base], 0
    ret

# key_hash: rdi = key, rsi = its length. Returns rax = its 64-bit hash:
# SipHash-2-4 under the index's random 128-bit key (IX_HASH_KEY), a keyed
# pseudo-random function, so no one who does not know the key can choose keys
# that share a bucket. (FNV-1a from a secret seed could be flooded: for keys of
# one length the difference of two hashes hardly depends on the seed, so
# collisions found once offline work against every server.)
# Clobbers rcx, rdx, rdi, rsi, r8-r11.
key_hash:
    mov rdx, rsi
    mov rsi, rdi
    mov rdi, qword ptr [rip + ix_base]
    add rdi, IX_HASH_KEY
    jmp siphash24

# The table (Shalev and Shavit's split-ordered list, 2006): every node is in
# one list, sorted by its split-order key (N_HASH): the bits of its hash
# reversed, with the lowest bit set. Bucket b of the table (IX_BUCKETS, u32
# per bucket: a node unit, 0 = not yet made) points at a dummy node (no key)
# whose split-order key is b reversed: it stands right before the keys whose
# hash ends in b, so a lookup starts at its bucket's dummy and walks only the
# keys of that bucket. The table grows by doubling IX_SO_SIZE with one
# cmpxchg: no node moves, a new bucket's dummy is made when first needed
# (after its parent's, the bucket with b's highest bit cleared, whose keys it
# splits), and a lookup in a bucket not made yet starts at the nearest made
# ancestor, which stands before it in the list. Inserting is one cmpxchg of
# the predecessor's N_NEXT; a dead node is unlinked (below), dummies never
# are, so a search that loses its place starts again from its bucket's
# dummy. A dummy is made only if a search finds none, and a
# process killed after linking one before setting its bucket leaves it for the
# next to find: the table never holds two nodes of one key (a key inserted twice
# at once: the second search finds the first).

# so_rev: edi = a 32-bit value. Returns eax = its bits reversed. Clobbers ecx.
so_rev:
    mov eax, edi
    bswap eax
    mov ecx, eax
    shr ecx, 4
    and ecx, 0x0f0f0f0f
    and eax, 0x0f0f0f0f
    shl eax, 4
    or eax, ecx
    mov ecx, eax
    shr ecx, 2
    and ecx, 0x33333333
    and eax, 0x33333333
    shl eax, 2
    or eax, ecx
    mov ecx, eax
    shr ecx, 1
    and ecx, 0x55555555
    and eax, 0x55555555
    shl eax, 1
    or eax, ecx
    ret

# so_search: rdi = a node to start from (a bucket's dummy, before the key in
# the list: a helper starts again from it, so it must be one that is never
# marked), esi = the key's split-order key, rdx = the key, ecx = its length
# (0: a dummy), r8d = 1 to help (a writer), 0 to only read. Walks the list to
# where the key is or would be. A dead node (N_RECS_DEAD) is never the key.
# A reader walks over dead nodes, marked or not (epochs keep them from being
# reused under it: index_enter); a helper unlinks each marked node it meets
# and never stands on one, so the place it returns was unmarked when read
# (a link made there fails if that changed).
# A key's search counts the nodes it passes and raises IX_WALK_MAX to that
# count: a keyed hash keeps it near the table's load, so a flood would show.
# Returns rdx = its node or 0; rax = the node to insert after, ecx = that
# node's N_NEXT as read, unmarked (the unit to insert before).
# Clobbers rsi, rdi, r8-r11.
so_search:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r14, rdi                          # where to start again
    mov rbx, rdi
    mov r12, rdx
    mov r13d, ecx
    mov r15d, r8d
    mov r11, qword ptr [rip + ix_base]
    xor edi, edi                          # nodes passed
1:  mov ecx, dword ptr [rbx + N_NEXT]
    btr ecx, LINK_MARK_BIT
    jnc 6f
    test r15d, r15d                       # we stand on a node being unlinked:
    jz 6f                                 # a helper starts again
    mov rbx, r14
    xor edi, edi                          # (a new walk)
    jmp 1b
6:  test ecx, ecx
    jz 4f
    mov r8d, ecx
    shl r8, 4                             # IX_UNIT
    add r8, r11                           # the next node
    test r15d, r15d
    jz 7f
    mov eax, dword ptr [r8 + N_NEXT]
    btr eax, LINK_MARK_BIT
    jnc 7f
    mov r9d, eax                          # marked: unlink it (whoever succeeds),
    mov eax, ecx                          # then read our link again
    lock cmpxchg dword ptr [rbx + N_NEXT], r9d
    jmp 1b
7:  cmp dword ptr [r8 + N_HASH], esi
    jb 3f
    ja 4f
    cmp r13d, dword ptr [r8 + N_KLEN]     # the same split-order key: the key?
    jne 3f
    cmp dword ptr [r8 + N_RECS], N_RECS_DEAD
    je 3f
    xor r9d, r9d
2:  cmp r9d, r13d
    jae 5f
    movzx r10d, byte ptr [r12 + r9]
    cmp r10b, byte ptr [r8 + N_KEY + r9]
    jne 3f
    inc r9d
    jmp 2b
3:  mov rbx, r8
    inc edi
    jmp 1b
4:  mov rax, rbx                          # not there: it goes after rbx
    xor edx, edx
    jmp 8f
5:  mov rax, rbx
    mov rdx, r8
8:  test r13d, r13d                       # (a dummy's search walks its parent's
    jz 10f                                # bucket: not a lookup)
    mov r9d, dword ptr [r11 + IX_WALK_MAX]  # (read-mostly: written only by a new
9:  cmp edi, r9d                          # longest walk)
    jbe 10f
    mov r10, rax
    mov eax, r9d
    lock cmpxchg dword ptr [r11 + IX_WALK_MAX], edi
    mov r9d, eax                          # (lost: what is there now; movs keep ZF)
    mov rax, r10
    jne 9b
10: pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# so_alloc: ecx = a node's size in units. Returns rax = the node (its unit
# in r8d): one given back of that size (index_reclaim) if there is one, else
# taken from the bump pointer; or -ENOMEM when the index is full.
# Clobbers rcx, rdx, r8, r9, r10.
so_alloc:
    mov rdx, qword ptr [rip + ix_base]
    cmp ecx, RC_SIZES
    jae 3f
    lea r8, [rdx + IX_RECLAIM + RC_FREE + rcx*8]
1:  mov rax, qword ptr [r8]               # its first unit, and a count of pops
    test eax, eax
    jz 3f
    mov r9d, eax
    shl r9, 4
    mov r10d, dword ptr [rdx + r9 + N_SEQ]  # the next (stale if the node was taken
    mov r9, rax                           # meanwhile: then the count moved on too
    shr r9, 32                            # and the cmpxchg fails)
    inc r9d
    shl r9, 32
    or r9, r10
    lock cmpxchg qword ptr [r8], r9
    jne 1b                                # rax holds what is there now
    lock inc qword ptr [rdx + IX_RECLAIM + RC_REUSED]
    mov r8d, eax
    mov eax, eax
    shl rax, 4
    add rax, rdx
    ret
3:  mov rax, rcx
    lock xadd qword ptr [rdx + IX_NEXT], rax
    add rcx, rax
    mov r8, IX_UNITS_MAX - 1              # units stay below LINK_MARK, and the
    cmp rcx, r8                           # mapping ends
    ja 2f
    mov r8d, eax
    shl rax, 4
    add rax, rdx
    ret
2:  mov rax, -ENOMEM
    ret

# so_link: rdi = the node to insert after, ecx = the unit it was seen to
# point at, rsi = the new node, edx = its unit. One attempt: eax = 1 if linked,
# 0 if the list changed there (search again from rdi). Clobbers rax.
so_link:
    mov dword ptr [rsi + N_NEXT], ecx
    mov eax, ecx
    lock cmpxchg dword ptr [rdi + N_NEXT], edx
    sete al
    movzx eax, al
    ret

# so_bucket: edi = a bucket (below IX_SO_MAX). Returns rax = its dummy node,
# made (with its ancestors') if it was not, or -ENOMEM. Clobbers the
# caller-saved registers.
so_bucket:
    mov rax, qword ptr [rip + ix_base]
    mov ecx, dword ptr [rax + IX_BUCKETS + rdi*4]
    test ecx, ecx
    jz 1f
    shl rcx, 4
    add rax, rcx
    ret
1:  push rbx
    push r12
    push r13
    push r14
    push r15
    mov ebx, edi
    bsr ecx, edi                          # (bucket 0 is made at index_init)
    btr edi, ecx                          # the parent: its keys are split here
    call so_bucket
    test rax, rax
    js 9f
    mov r12, rax                          # where to search from
    mov edi, ebx
    call so_rev
    mov r13d, eax                         # the dummy's split-order key
    mov ecx, 2                            # a dummy: no key, no value
    call so_alloc
    test rax, rax
    js 9f
    mov r14, rax
    mov r15d, r8d
    mov dword ptr [r14 + N_KLEN], 0
    mov dword ptr [r14 + N_HASH], r13d
    mov dword ptr [r14 + N_RECS], 0
    xor eax, eax
    mov qword ptr [r14 + N_SEQ], rax
    mov qword ptr [r14 + N_LOC], rax
2:  mov rdi, r12
    mov esi, r13d
    xor edx, edx
    xor ecx, ecx
    mov r8d, 1                            # (a writer: it helps)
    call so_search
    test rdx, rdx
    jnz 3f                                # there already (ours stays unlinked)
    mov rdi, rax
    mov rsi, r14
    mov edx, r15d
    call so_link
    test eax, eax
    jz 2b                                 # again from the parent's dummy: the node
                                          # we tried may be dead and marked now
    mov rdx, r14
3:  mov rax, qword ptr [rip + ix_base]    # the bucket points at it now (whoever
    mov rcx, rdx                          # sets it sets the same unit)
    sub rcx, rax
    shr rcx, 4
    mov dword ptr [rax + IX_BUCKETS + rbx*4], ecx
    mov rax, rdx
9:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# so_place: rdi = key, rsi = its length. Returns rax = the key's hash
# (64 bits), edx = its split-order key, ecx = its bucket at the table's size
# now. Clobbers rdi, rsi, r8-r11.
so_place:
    sub rsp, 8                            # (calls aligned)
    call key_hash
    mov qword ptr [rsp], rax
    mov edi, eax
    or edi, 0x80000000                    # a key's split-order key is odd
    call so_rev
    mov edx, eax
    pop rax
    mov rcx, qword ptr [rip + ix_base]
    mov rcx, qword ptr [rcx + IX_SO_SIZE]
    dec ecx
    and ecx, eax
    ret

# The ordered list (a skip list, after Pugh 1990 and the concurrent insert of
# LevelDB's and RocksDB's InlineSkipList): every node with a key, in listing
# order (key_order), at level 0; each level up holds about a quarter of the
# level below, so a seek reads O(log N) nodes. A node's tower (sl_tower) has
# its height (sl_height) of links, u32 units; IX_SL_HEAD is the head's tower.
# Lock-free like the table: a node is filled in, key and tower, before the
# `lock cmpxchg` that links it at level 0, then at each level up in turn; a
# link that fails (a node came in between, or the predecessor is being
# unlinked) seeks the place again. A process killed in between leaves a short
# tower, which is still a correct skip list. Dead nodes are unlinked level by
# level ("Giving nodes back", below).
# A node goes into the ordered list before the table (index_node), so every
# node a GET can find is in it. One that lost a race to insert the same key
# (a twin) dies at once and is given back; one whose inserter was killed
# between the two stays, with no value, until a restart. So the list may hold
# several nodes of a key (those, and dead ones not yet unlinked), which compare
# equal: walks of the list skip nodes with no value, and a listing that stops
# at one passes over the others when it goes on (list.s).

# ko_token: rdi = a position in an encoded key, rsi = the key's end (above rdi).
# Returns eax = the listing value of the token there ("%XX" or a byte): 1 for
# "/", the decoded byte + 2 otherwise; rdi past it. Clobbers ecx.
ko_token:
    movzx eax, byte ptr [rdi]
    inc rdi
    cmp eax, '%'
    jne 3f
    lea rcx, [rdi + 2]
    cmp rcx, rsi
    ja 3f                                 # (keys are well formed: decode_key made them)
    movzx eax, byte ptr [rdi]             # hex digits: "0"-"9" keep bit 5 set,
    or eax, 0x20                          # letters get it (lowercase)
    cmp eax, 'a'
    jb 1f
    sub eax, 'a' - 10 - '0'
1:  sub eax, '0'
    shl eax, 4
    mov ecx, eax
    movzx eax, byte ptr [rdi + 1]
    or eax, 0x20
    cmp eax, 'a'
    jb 2f
    sub eax, 'a' - 10 - '0'
2:  sub eax, '0'
    or eax, ecx
    add rdi, 2
3:  cmp eax, '/'
    je 4f
    add eax, 2
    ret
4:  mov eax, 1
    ret

# key_order: rdi = key A, esi = its length, rdx = key B, ecx = its length,
# both encoded (any mix of "%XX" and bytes). Compares them in listing order:
# by decoded bytes, "/" below every other byte, a key below what it is a
# prefix of. So the keys under a directory "d/" stand together, right after
# "d" and before "d" followed by any other byte.
# Returns eax < 0, 0 or > 0 (A against B), edx = 1 if B is a prefix of A
# (equal included), token for token, else 0. Clobbers rcx, rsi, rdi, r8-r11.
key_order:
    sub rsp, 8                            # (calls aligned)
    mov r8, rdi
    lea r9, [rdi + rsi]
    mov r10, rdx
    lea r11, [rdx + rcx]
1:  cmp r10, r11
    jae .Lko_b_end
    cmp r8, r9
    jae .Lko_a_end
    movzx eax, byte ptr [r8]              # the same byte, not "%": the same token
    cmp al, byte ptr [r10]
    jne 2f
    cmp eax, '%'
    je 2f
    inc r8
    inc r10
    jmp 1b
2:  mov rdi, r8
    mov rsi, r9
    call ko_token
    mov r8, rdi
    mov edx, eax
    mov rdi, r10
    mov rsi, r11
    call ko_token
    mov r10, rdi
    cmp edx, eax
    je 1b
    sub edx, eax
    mov eax, edx
    xor edx, edx
    add rsp, 8
    ret
.Lko_a_end:
    mov eax, -1
    xor edx, edx
    add rsp, 8
    ret
.Lko_b_end:
    xor eax, eax
    cmp r8, r9
    setb al
    mov edx, 1
    add rsp, 8
    ret

# sl_tower: rax = a node with a key. Returns rax = its tower. Clobbers ecx.
sl_tower:
    mov ecx, dword ptr [rax + N_KLEN]
    add ecx, 3
    and ecx, -4
    lea rax, [rax + rcx + N_KEY]
    ret

# sl_height: rax = a key's 64-bit hash. Returns eax = its node's height in the
# ordered list, 1..SL_LEVELS: one more for each pair of zero bits at the low
# end of the hash's high half (a quarter of each level goes up). The hash is
# keyed, so no client can choose tall or short nodes. Clobbers rcx.
sl_height:
    shr rax, 32
    bts rax, 2 * (SL_LEVELS - 1)          # no higher than the top
    tzcnt rax, rax
    shr eax, 1
    inc eax
    ret

# sl_seek: rdi = a key (encoded), esi = its length, edx = 0 to find the first
# node at or after it in listing order, 1 for the first past every key it is
# a prefix of; rcx = a splice (SL_SPLICE bytes) to fill in, or 0.
# Returns eax = that node's unit (0: none). The splice gets, per level, the
# tower the place is after and the unit it is before (as read, unmarked).
# Without a splice it only reads, walking over dead nodes; with one it helps,
# as so_search does: it unlinks each marked node it meets at each level and
# never stands on one (it starts again from the head if the tower it stands
# on is marked), so a link made at the splice fails if the place changed.
# Clobbers the caller-saved registers.
sl_seek:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    sub rsp, 8                            # [rsp] the unit after the place, as read
    mov r12, rdi
    mov r13d, esi
    mov r14d, edx
    mov r15, rcx
.Lsk_start:
    mov rbx, qword ptr [rip + ix_base]
    add rbx, IX_SL_HEAD                   # the tower we stand after
    mov ebp, SL_LEVELS - 1
.Lsk_look:
    mov eax, dword ptr [rbx + rbp*4]
    btr eax, LINK_MARK_BIT
    jnc 2f
    test r15, r15
    jnz .Lsk_start
2:  mov dword ptr [rsp], eax
    test eax, eax
    jz .Lsk_down
    shl rax, 4                            # IX_UNIT
    add rax, qword ptr [rip + ix_base]
    test r15, r15
    jz 3f
    mov r8, rax                           # a helper: is the next node marked here?
    call sl_tower
    mov ecx, dword ptr [rax + rbp*4]
    mov rax, r8
    btr ecx, LINK_MARK_BIT
    jnc 3f
    mov eax, dword ptr [rsp]              # yes: unlink it at this level (whoever
    lock cmpxchg dword ptr [rbx + rbp*4], ecx  # succeeds), and look again
    jmp .Lsk_look
3:  lea rdi, [rax + N_KEY]
    mov esi, dword ptr [rax + N_KLEN]
    mov rdx, r12
    mov ecx, r13d
    call key_order
    test eax, eax
    js .Lsk_on                            # before the key: go on
    and edx, r14d
    jz .Lsk_down                          # at or past it
.Lsk_on:
    mov eax, dword ptr [rsp]
    shl rax, 4
    add rax, qword ptr [rip + ix_base]
    call sl_tower
    mov rbx, rax
    jmp .Lsk_look
.Lsk_down:
    test r15, r15
    jz 1f
    mov qword ptr [r15 + rbp*8], rbx
    mov eax, dword ptr [rsp]
    mov dword ptr [r15 + rbp*4 + SL_SPLICE_SUCC], eax
1:  dec ebp
    jns .Lsk_look
    mov eax, dword ptr [rsp]
    add rsp, 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

# sl_insert: rdi = a node with a key, filled in but for its tower, and not
# yet in the ordered list; esi = its height. Links it at each level, from
# level 0 up: its link there is set to the place's successor, then the
# place's predecessor is pointed at it with one cmpxchg. If that fails (a
# node came in there, or the predecessor is being unlinked), the place is
# sought again. Clobbers the caller-saved registers.
sl_insert:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    sub rsp, SL_SPLICE + 8                # the splice (keeps the stack aligned)
    mov r12, rdi
    mov r13d, esi
    call index_node_id
    mov r14d, eax
    mov rax, r12
    call sl_tower
    mov rbx, rax                          # our tower
    xor ebp, ebp                          # the level
.Lsi_seek:
    lea rdi, [r12 + N_KEY]
    mov esi, dword ptr [r12 + N_KLEN]
    xor edx, edx
    mov rcx, rsp
    call sl_seek
.Lsi_level:
    cmp ebp, r13d
    jae .Lsi_out
    mov eax, dword ptr [rsp + rbp*4 + SL_SPLICE_SUCC]
    mov dword ptr [rbx + rbp*4], eax      # ours, before anyone can follow it
    mov rdi, qword ptr [rsp + rbp*8]
    lock cmpxchg dword ptr [rdi + rbp*4], r14d
    jne .Lsi_seek
    inc ebp
    jmp .Lsi_level
.Lsi_out:
    add rsp, SL_SPLICE + 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

# sl_unlink: rdi = a dead node whose links are all marked, esi = its height.
# Unlinks it at every level: from the place a helping seek finds for its key,
# each level is walked over the nodes of an equal key until it or a greater
# key comes (once unlinked at a level, a dead node never comes back there).
# Clobbers the caller-saved registers.
sl_unlink:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    sub rsp, SL_SPLICE + 8
    mov r12, rdi
    mov r13d, esi
    mov rax, rdi
    call sl_tower
    mov r15, rax                          # its tower
.Lslu_seek:
    lea rdi, [r12 + N_KEY]
    mov esi, dword ptr [r12 + N_KLEN]
    xor edx, edx
    mov rcx, rsp
    call sl_seek
    mov ebp, r13d
.Lslu_level:
    dec ebp
    js .Lslu_out
    mov rbx, qword ptr [rsp + rbp*8]      # a tower before the key at this level
.Lslu_walk:
    mov eax, dword ptr [rbx + rbp*4]
    bt eax, LINK_MARK_BIT
    jc .Lslu_seek                          # it is being unlinked itself: seek again
    test eax, eax
    jz .Lslu_level
    mov r14d, eax
    shl rax, 4
    add rax, qword ptr [rip + ix_base]
    cmp rax, r12
    jne 1f
    mov ecx, dword ptr [r15 + rbp*4]      # ours: point past it
    btr ecx, LINK_MARK_BIT
    mov eax, r14d
    lock cmpxchg dword ptr [rbx + rbp*4], ecx
    jne .Lslu_walk
    jmp .Lslu_level
1:  push rax
    push rax
    call sl_tower
    mov ecx, dword ptr [rax + rbp*4]
    mov r8, rax
    pop rax
    pop rax
    btr ecx, LINK_MARK_BIT
    jnc 2f
    mov eax, r14d                         # another dead one: help it out
    lock cmpxchg dword ptr [rbx + rbp*4], ecx
    jmp .Lslu_walk
2:  push r8
    push r8
    lea rdi, [rax + N_KEY]
    mov esi, dword ptr [rax + N_KLEN]
    lea rdx, [r12 + N_KEY]
    mov ecx, dword ptr [r12 + N_KLEN]
    call key_order
    pop rbx                               # (its tower: where to go on from)
    pop rbx
    test eax, eax
    jg .Lslu_level                         # past its key: not at this level
    jmp .Lslu_walk
.Lslu_out:
    add rsp, SL_SPLICE + 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

# index_seek: rdi = a key (encoded; it need not exist), esi = its length,
# edx = 0 for the first node at or after it in listing order (key_order),
# 1 for the first past every key it is a prefix of (past a directory "d%2F").
# Returns eax = that node's id (0: none). The node may have no value (a
# deleted key, or a twin left by a process killed while inserting): check
# with index_state. Clobbers the caller-saved registers.
.globl index_seek
index_seek:
    xor ecx, ecx
    jmp sl_seek

# index_after: edi = a node's id (from index_seek or index_after). Returns
# eax = the id of the next node in listing order (0: the end). A node id is
# good only until the worker waits again (index_leave): a walk that stops
# there goes on later by seeking its next key again.
# Clobbers rcx.
.globl index_after
index_after:
    mov eax, edi
    shl rax, 4                            # IX_UNIT
    add rax, qword ptr [rip + ix_base]
    mov ecx, dword ptr [rax + N_KLEN]     # its tower (sl_tower), level 0
    add ecx, 3
    and ecx, -4
    mov eax, dword ptr [rax + rcx + N_KEY]
    btr eax, LINK_MARK_BIT                # (a dead node's link still leads on)
    ret

# index_lookup: rdi = key, rsi = its length. Returns rax = the key's node, or 0
# if it has none (never written, or given back). Reads only: a bucket not made
# yet is searched from its nearest made ancestor. Clobbers the caller-saved
# registers.
.globl index_lookup
index_lookup:
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov r13, rsi
    call so_place
    mov rax, qword ptr [rip + ix_base]
1:  mov edi, dword ptr [rax + IX_BUCKETS + rcx*4]
    test edi, edi
    jnz 2f
    bsr r8d, ecx                          # (bucket 0 is always made)
    btr ecx, r8d
    jmp 1b
2:  shl rdi, 4
    add rdi, rax
    mov esi, edx
    mov rdx, r12
    mov ecx, r13d
    xor r8d, r8d                          # (only reads)
    call so_search
    mov rax, rdx
    pop r13
    pop r12
    pop rbx
    ret

# index_node: rdi = key, rsi = its length (1..NAME_MAX). Returns rax = the
# key's node, added (with no value yet) if the key has none, with one more
# record counted on it: the caller's, to be counted before it can be found
# valid on disk (index_rec_add says why; index_rec_drop takes it back if the
# record is never made). Or -ENOMEM if the index is full. The count is what
# keeps the node from being given back while the caller holds it.
# A new node goes into the ordered list, then into the table.
# Clobbers the caller-saved registers.
.globl index_node
index_node:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 32                           # [rsp] our new node (0: none yet), [rsp + 8]
                                          # its unit, [rsp + 16] the unit to insert it
                                          # before, [rsp + 24] its height (sl_height)
    mov r12, rdi
    mov r13, rsi
    call so_place
    mov r15d, edx                         # split-order key
    mov r14d, ecx
    call sl_height
    mov qword ptr [rsp + 24], rax         # its height in the ordered list
    mov qword ptr [rsp], 0
    mov edi, r14d
    call so_bucket
    test rax, rax
    js .Lin_out
    mov r14, rax                          # search from its bucket's dummy
.Lin_search:
    mov rdi, r14
    mov esi, r15d
    mov rdx, r12
    mov ecx, r13d
    mov r8d, 1                            # (a writer: it helps)
    call so_search
    test rdx, rdx
    jnz .Lin_found
    mov rbx, rax
    mov qword ptr [rsp + 16], rcx
    cmp qword ptr [rsp], 0
    jne .Lin_link                         # ours is made, and in order, already
    # a new node, filled in before anyone can see it
    lea rcx, [r13 + 3]                    # its size in units: the key (to 4),
    and rcx, -4                           # then its tower
    mov rax, qword ptr [rsp + 24]
    lea rcx, [rcx + rax*4 + N_KEY + IX_UNIT - 1]
    shr rcx, 4
    call so_alloc
    test rax, rax
    js .Lin_out
    mov qword ptr [rsp], rax
    mov qword ptr [rsp + 8], r8
    mov dword ptr [rax + N_KLEN], r13d
    mov dword ptr [rax + N_HASH], r15d
    mov dword ptr [rax + N_RECS], 1       # the caller's record
    xor ecx, ecx
    mov qword ptr [rax + N_SEQ], rcx
    mov qword ptr [rax + N_LOC], rcx
1:  cmp rcx, r13
    jae 3f
    movzx edx, byte ptr [r12 + rcx]
    mov byte ptr [rax + N_KEY + rcx], dl
    inc rcx
    jmp 1b
3:  mov rdi, rax                          # in order first: a node the table holds
    mov esi, dword ptr [rsp + 24]         # is in the ordered list
    call sl_insert
.Lin_link:
    mov ecx, dword ptr [rsp + 16]         # between rbx and what followed it when
    mov rdi, rbx                          # the search passed (if that changed, the
    mov rsi, qword ptr [rsp]              # link fails and we look again: is our
    mov edx, dword ptr [rsp + 8]          # key among what came?)
    call so_link
    test eax, eax
    jz .Lin_search
    mov rcx, qword ptr [rip + ix_base]    # one more key: the table doubles past
    mov eax, 1                            # SO_LOAD keys a bucket on average
    lock xadd qword ptr [rcx + IX_SO_COUNT], rax
    inc rax
    mov rdx, qword ptr [rcx + IX_SO_SIZE]
    mov rdi, rdx
    imul rdi, rdi, SO_LOAD
    cmp rax, rdi
    jbe 4f
    cmp rdx, IX_SO_MAX
    jae 4f
    mov rax, rdx
    lea rdi, [rdx + rdx]
    lock cmpxchg qword ptr [rcx + IX_SO_SIZE], rdi  # (lost: another doubled it)
4:  mov rax, qword ptr [rsp]
    jmp .Lin_out
.Lin_found:
    mov rdi, rdx                          # the key's node: ours too, unless it
    call index_rec_add                    # died since the search saw it
    test eax, eax
    jz .Lin_search
    mov rbx, rdi
    mov rdi, qword ptr [rsp]              # a node of ours that lost the race is a
    test rdi, rdi                         # twin in the ordered list alone: it goes
    jz 5f                                 # as a dead node does (counted as if in
    mov rax, qword ptr [rip + ix_base]    # the table, which index_reclaim uncounts)
    lock inc qword ptr [rax + IX_SO_COUNT]
    call index_rec_drop
5:  mov rax, rbx
.Lin_out:
    add rsp, 32
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# index_publish: rdi = node, rsi = sequence number of a durable record,
# rdx = its LOC (LOC_TOMB set for a delete), ecx = 1 for create-only.
# Makes it the key's newest write unless a later one is there already.
# Returns eax = PUB_NEW or PUB_REPLACED (applied; whether the key had a
# value; rdx = the LOC it replaced, rsi = that write's sequence number),
# PUB_LOST (a later write of the key is there: this one is overwritten) or
# PUB_EXISTS (create-only, and the key has a value: not applied).
# Clobbers rcx, rdx, rsi, r8, r9.
.globl index_publish
index_publish:
    push rbx
    mov r8, rsi
    mov r9, rdx
    mov esi, ecx
    mov rax, qword ptr [rdi + N_SEQ]      # a torn pair is fine: cmpxchg16b checks it
    mov rdx, qword ptr [rdi + N_LOC]
1:  cmp rax, r8
    jae 4f
    xor ecx, ecx                          # does the key have a value?
    mov rbx, ~LOC_CLAIM
    test rdx, rbx                         # (a claim on nothing is no value)
    jz 2f
    bt rdx, LOC_TOMB_BIT
    jc 2f
    inc ecx
    test esi, esi
    jnz 5f
2:  mov rbx, r8
    push rcx
    mov rcx, r9
    lock cmpxchg16b xmmword ptr [rdi + N_SEQ]
    pop rcx
    jne 1b                                # rdx:rax hold what is there now
    mov rsi, rax                          # (and held what it replaced)
    lea eax, [ecx + PUB_NEW]
    pop rbx
    ret
4:  mov eax, PUB_LOST
    pop rbx
    ret
5:  mov eax, PUB_EXISTS
    pop rbx
    ret

# index_move: rdi = node, rsi = sequence number, rdx = the LOC of a record the
# key's newest write was when compaction copied it, rcx = the copy's LOC.
# Points the key at the copy if its newest write is still that record, keeping
# a conditional write's claim on it (LOC_CLAIM). Returns eax = 1 if moved, 0 if
# a later write replaced the record. Clobbers rcx, rdx, rsi, r8, r9, r10.
.globl index_move
index_move:
    push rbx
    mov r8, rsi
    mov r9, rdx
    mov r10, rcx
    mov rax, qword ptr [rdi + N_SEQ]
    mov rdx, qword ptr [rdi + N_LOC]
1:  cmp rax, r8
    jne 3f
    mov rbx, LOC_CLAIM
    mov rcx, rdx
    and rbx, rdx                          # the claim, if any
    xor rcx, rbx
    cmp rcx, r9
    jne 3f
    or rbx, r10
    mov rcx, rbx
    mov rbx, r8
    lock cmpxchg16b xmmword ptr [rdi + N_SEQ]
    jne 1b                                # rdx:rax hold what is there now
    mov eax, 1
    pop rbx
    ret
3:  xor eax, eax
    pop rbx
    ret

# index_state: rdi = node. Returns rax = the sequence number of the key's
# newest write and rdx = its LOC (flags and all), read as one pair: the
# sequence number only grows, so a LOC read between two equal readings of it
# belongs to it. Clobbers nothing else.
.globl index_state
index_state:
1:  mov rax, qword ptr [rdi + N_SEQ]
    mov rdx, qword ptr [rdi + N_LOC]
    cmp rax, qword ptr [rdi + N_SEQ]
    jne 1b
    ret

# index_settle: rdi = node, rsi = the sequence number this write claimed,
# rdx = the write's own sequence number, rcx = its LOC. Replaces the claimed
# pair by the write, unless a later write replaced the claim already (then
# that one is the key's newest, and this one counts as overwritten).
# Returns eax = PUB_REPLACED or PUB_LOST, rdx = the LOC replaced.
# Clobbers rcx, rdx, rsi, r8, r9, r10.
.globl index_settle
index_settle:
    push rbx
    mov r8, rsi
    mov r9, rdx
    mov r10, rcx
    call index_state
1:  cmp rax, r8
    jne 3f
    bt rdx, LOC_CLAIM_BIT
    jnc 3f
    mov rbx, r9
    mov rcx, r10
    lock cmpxchg16b xmmword ptr [rdi + N_SEQ]
    jne 1b
    mov eax, PUB_REPLACED
    pop rbx
    ret
3:  mov eax, PUB_LOST
    pop rbx
    ret

# index_unclaim: rdi = node, rsi = the sequence number a write claimed.
# Gives the claim back (the write failed): the key's newest write is what it
# was. Clobbers rcx, rdx, r8.
.globl index_unclaim
index_unclaim:
    push rbx
    mov r8, rsi
    call index_state
1:  cmp rax, r8
    jne 3f
    bt rdx, LOC_CLAIM_BIT
    jnc 3f
    mov rbx, rax
    mov rcx, rdx
    btr rcx, LOC_CLAIM_BIT
    lock cmpxchg16b xmmword ptr [rdi + N_SEQ]
    jne 1b
3:  pop rbx
    ret

# The index's interface for the rest of the server: nodes are named by an id
# (a u32, what a conn keeps in C_NODE and a listing in LS_POS), their keys
# read with index_key, their state with index_state, and every key walked in
# listing order with index_seek and index_after. Nothing outside this file
# knows the node's layout, the table or the lists.

# index_node_at: edi = a node's id. Returns rax = the node. Clobbers nothing else.
.globl index_node_at
index_node_at:
    mov eax, edi
    shl rax, 4                            # IX_UNIT
    add rax, qword ptr [rip + ix_base]
    ret

# index_node_id: rdi = a node. Returns eax = its id. Clobbers nothing else.
.globl index_node_id
index_node_id:
    mov rax, rdi
    sub rax, qword ptr [rip + ix_base]
    shr rax, 4                            # IX_UNIT
    ret

# index_key: rdi = a node. Returns rax = its key (encoded, as given to
# index_node), rdx = the key's length. Clobbers nothing else.
.globl index_key
index_key:
    lea rax, [rdi + N_KEY]
    mov edx, dword ptr [rdi + N_KLEN]
    ret

# index_stats: Returns rax = keys that have a value, rdx = buckets of the
# table, rcx = bytes of node memory taken from the mapping (in use, in limbo
# or free for reuse), r8 = keys with a node in the table (those with a value,
# and those whose tombstone is still on disk; a dead node counts until it is
# unlinked), r9 = nodes given back so far, r10 = nodes reused so far
# (index_reclaim), r11d = the longest walk of a search (IX_WALK_MAX).
# Clobbers nothing else.
.globl index_stats
index_stats:
    mov r10, qword ptr [rip + ix_base]
    mov r11d, dword ptr [r10 + IX_WALK_MAX]
    mov rax, qword ptr [r10 + IX_KEYS]
    mov rdx, qword ptr [r10 + IX_SO_SIZE]
    mov r8, qword ptr [r10 + IX_SO_COUNT]
    mov rcx, qword ptr [r10 + IX_NEXT]
    sub rcx, IX_NODES / IX_UNIT
    shl rcx, 4                            # IX_UNIT
    mov r9, qword ptr [r10 + IX_RECLAIM + RC_FREED]
    mov r10, qword ptr [r10 + IX_RECLAIM + RC_REUSED]
    ret

# index_taint: a write failed after its record was counted (index_node): its
# footer may be on disk, so the count stays, and the node and a tombstone of
# its key are kept until a start reads the segments. The index says so
# (IX_TAINTED), and no image of it is saved (snapshot_save). Clobbers rax.
.globl index_taint
index_taint:
    mov rax, qword ptr [rip + ix_base]
    mov dword ptr [rax + IX_TAINTED], 1
    ret

# index_swap: rdi = node, rsi = the sequence number and rdx = the LOC read
# (index_state), rcx = a new LOC. Sets the key's pair to (rsi, rcx) in one
# cmpxchg16b if it is still (rsi, rdx) (a conditional write's claim set).
# Returns eax = 1 if so, 0 if the pair changed (read it again).
# Clobbers rcx, rdx.
.globl index_swap
index_swap:
    push rbx
    mov rax, rsi
    mov rbx, rsi
    lock cmpxchg16b xmmword ptr [rdi + N_SEQ]
    sete al
    movzx eax, al
    pop rbx
    ret

# index_rec_add: rdi = node. Counts one more record of its key that may be on
# disk. Called before a record can be found valid on disk (before its footer
# is written, or its copy made), so the count is never below the truth: a
# process killed after it leaves the count high, which only keeps a tombstone
# (and the node) longer. It sticks at N_RECS_MANY rather than wrap.
# Returns eax = 1, or 0 if the node is dead (index_rec_drop): nothing may be
# counted on it, the key has no node now. Clobbers rcx.
.globl index_rec_add
index_rec_add:
    mov eax, dword ptr [rdi + N_RECS]
1:  cmp eax, N_RECS_DEAD
    je 3f
    cmp eax, N_RECS_MANY
    je 2f
    lea ecx, [eax + 1]
    lock cmpxchg dword ptr [rdi + N_RECS], ecx
    jne 1b                                # eax holds what is there now
2:  mov eax, 1
    ret
3:  xor eax, eax
    ret

# index_recs: rdi = node. Returns eax = the records of its key that may be on
# disk (index_rec_add), at least. Clobbers nothing else.
.globl index_recs
index_recs:
    mov eax, dword ptr [rdi + N_RECS]
    ret

# index_rec_drop: rdi = node. Counts one record of its key fewer: called only
# once the record can no longer be found valid on disk (the segment that held
# it is removed, or its footer was never written). Never below 0; N_RECS_MANY
# stays. When one record is left and it is a delete, that tombstone keeps
# nothing from coming back any more: its segment counts it (SG_DROP, a hint
# that makes the segment worth compacting; compaction checks N_RECS itself).
# When none is left, the key has nothing on disk and no writer holds the node
# (a writer counts its record first: index_node), so it has no value and
# none can come: the node dies, N_RECS 0 -> N_RECS_DEAD in one cmpxchg (from
# then on no search finds it and nothing is counted on it), and goes on the
# stack of dead nodes for the compactor to unlink and give back
# (index_reclaim). Clobbers rax, rcx, rdx, r8.
.globl index_rec_drop
index_rec_drop:
    mov eax, dword ptr [rdi + N_RECS]
1:  cmp eax, N_RECS_MANY                  # (or N_RECS_DEAD)
    jae 2f
    test eax, eax
    jz 2f
    lea ecx, [eax - 1]
    lock cmpxchg dword ptr [rdi + N_RECS], ecx
    jne 1b
    test ecx, ecx
    jz 3f
    cmp ecx, 1
    jne 2f
    call index_state
    bt rdx, LOC_TOMB_BIT
    jnc 2f
    shr rdx, LOC_SEG_SHIFT
    and edx, LOC_SEG_MASK
    shl rdx, SG_SHIFT
    add rdx, qword ptr [rip + ix_base]
    lock inc dword ptr [rdx + IX_SEGS + SG_DROP]
2:  ret
3:  call index_state                      # (a value with nothing counted would be a
    btr rdx, LOC_CLAIM_BIT                # miscount: such a node is kept, not lost)
    test rdx, rdx
    jz 4f
    bt rdx, LOC_TOMB_BIT
    jnc 2b
4:  xor eax, eax
    mov ecx, N_RECS_DEAD
    lock cmpxchg dword ptr [rdi + N_RECS], ecx
    jne 2b                                # counted again meanwhile: it lives
    mov r8, qword ptr [rip + ix_base]
    mov rcx, rdi
    sub rcx, r8
    shr rcx, 4                            # its unit
    add r8, IX_RECLAIM
    mov eax, dword ptr [r8 + RC_DYING]
5:  mov qword ptr [rdi + N_SEQ], rax      # a dead node's N_SEQ links it: no one
    lock cmpxchg dword ptr [r8 + RC_DYING], ecx  # reads a dead node's number
    jne 5b
    ret

# Giving nodes back. A node dies (index_rec_drop) when its key has nothing on
# disk and no writer holds it; only the compactor unlinks dead nodes and gives
# them back, as a skip list or a list that deletes does (Harris 2001, Fraser
# 2004), in three steps none of which can leave the lists unusable:
#   1. every link the dead node holds (each level of its tower, top down, and
#      N_NEXT) gets LINK_MARK with one cmpxchg each, so nothing can be linked
#      after it any more: a writer's cmpxchg on a marked link fails;
#   2. each list is pointed past it, one cmpxchg per level, by the compactor
#      or by any writer whose search meets a marked node (so_search, sl_seek:
#      no writer waits for a compactor that was killed half-way);
#   3. once unlinked everywhere it waits in limbo until every worker that
#      might have reached it before (a reader follows links without any
#      protection) has moved on, then goes on the free list of its size,
#      which index_node takes from first.
# Moving on is counted in epochs (Fraser's epoch-based reclamation): a worker
# sets its slot (RC_SLOTS) to the epoch when it wakes (index_enter) and to 0
# before it waits (index_leave); the compactor raises RC_EPOCH by one only
# when every slot is 0 or the epoch itself, and a node unlinked in epoch E is
# given back when the epoch reaches E + 2: every worker has then waited since
# the unlink, or woke after it and cannot reach the node. A killed worker's
# slot is cleared by the master when it reaps it (index_forget), so a dead
# process holds nothing back for longer than its reaping. A node id held
# across a wait is good only if a record is counted on the node (a writer's
# C_NODE); a listing keeps a key instead (list.s). A process killed between
# steps leaks one node at most (until a restart, which rebuilds the index).

# index_enter: (worker) it is awake and may read nodes: its slot names the
# epoch. The exchange is a full barrier: the slot is seen before any node is
# read. Clobbers rax, rcx, rdx.
.globl index_enter
index_enter:
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rcx + IX_RECLAIM + RC_EPOCH]
    mov edx, dword ptr [rip + w_slot]
    xchg qword ptr [rcx + IX_RECLAIM + RC_SLOTS + rdx*8], rax
    ret

# index_leave: (worker) it is about to wait and holds no node id but those a
# counted record keeps: it keeps nothing from being given back. Clobbers rcx, rdx.
.globl index_leave
index_leave:
    mov rcx, qword ptr [rip + ix_base]
    mov edx, dword ptr [rip + w_slot]
    mov qword ptr [rcx + IX_RECLAIM + RC_SLOTS + rdx*8], 0
    ret

# index_forget: (master) edi = the slot of a child that was reaped. Clears
# its epoch, so that it holds nothing back, and its active segment and backup
# hold (backup_forget), through mappings of the index's first page and its
# reclamation page alone (the master keeps no mapping of the index).
# Best effort: the child that takes the slot clears them too.
# Clobbers the caller-saved registers.
.globl index_forget
index_forget:
    push rbx
    push r12
    push r13
    mov ebx, edi
    xor r9d, r9d                          # the first page
    call ix_map_page
    cmp rax, -4096
    ja 1f
    mov r12, rax
    mov r9, IX_RECLAIM
    call ix_map_page
    cmp rax, -4096
    ja 2f
    mov r13, rax
    mov qword ptr [r13 + RC_SLOTS + rbx*8], 0
    mov rdi, r12
    mov rsi, r13
    mov edx, ebx
    call backup_forget
    mov rdi, r13
    mov esi, PAGE_SIZE
    mov eax, SYS_munmap                   # cannot fail on a mapping we made
    syscall
2:  mov rdi, r12
    mov esi, PAGE_SIZE
    mov eax, SYS_munmap
    syscall
1:  pop r13
    pop r12
    pop rbx
    ret

# ix_map_page: (master) r9 = a page's offset in the index. Returns rax = a
# shared mapping of it, or -errno. Clobbers rcx, rdx, rsi, rdi, r8, r10, r11.
ix_map_page:
    xor edi, edi
    mov esi, PAGE_SIZE
    mov edx, PROT_RW
    mov r10d, MAP_SHARED
    mov r8d, dword ptr [rip + ix_fd]
    mov eax, SYS_mmap
    syscall
    ret

# node_place: rdi = a node with a key. Returns rax = its key's hash, edx = its
# split-order key, ecx = its bucket now, r8d = its height in the ordered
# list, r9d = its size in units (as index_node made it). Clobbers rsi, rdi,
# r10, r11.
node_place:
    push rbx
    push r12
    push r13
    mov r12, rdi
    lea rdi, [r12 + N_KEY]
    mov esi, dword ptr [r12 + N_KLEN]
    call so_place
    mov rbx, rax
    mov r13d, ecx
    push rdx
    push rdx
    call sl_height
    mov r8d, eax
    pop rdx
    pop rdx
    mov r9d, dword ptr [r12 + N_KLEN]
    add r9d, 3
    and r9d, -4
    lea r9d, [r9d + r8d*4 + N_KEY + IX_UNIT - 1]
    shr r9d, 4
    mov rax, rbx
    mov ecx, r13d
    pop r13
    pop r12
    pop rbx
    ret

# mark_link: rdi = a link (u32). Sets LINK_MARK on it, whatever it holds.
# Clobbers rax, rcx.
mark_link:
    mov eax, dword ptr [rdi]
1:  bt eax, LINK_MARK_BIT
    jc 2f
    mov ecx, eax
    bts ecx, LINK_MARK_BIT
    lock cmpxchg dword ptr [rdi], ecx
    jne 1b
2:  ret

# so_unlink: rdi = a dead node whose N_NEXT is marked, esi = its split-order
# key, edx = its bucket. Unlinks it from the table's list: walks from the
# bucket's nearest made dummy (before it in the list) over the keys of its
# split-order key, pointing past it (and past any other marked node met), and
# starts again if the node it stands on gets marked. Clobbers the
# caller-saved registers.
so_unlink:
    mov r11, qword ptr [rip + ix_base]
1:  mov r9d, dword ptr [r11 + IX_BUCKETS + rdx*4]
    test r9d, r9d
    jnz 2f
    bsr ecx, edx                          # (bucket 0 is always made)
    btr edx, ecx
    jmp 1b
2:  shl r9, 4
    add r9, r11                           # the dummy: never marked
.Lsou_start:
    mov r8, r9
.Lsou_walk:
    mov eax, dword ptr [r8 + N_NEXT]
    bt eax, LINK_MARK_BIT
    jc .Lsou_start
    test eax, eax
    jz 9f
    mov r10d, eax
    shl r10, 4
    add r10, r11                          # the next node
    mov ecx, dword ptr [r10 + N_NEXT]
    btr ecx, LINK_MARK_BIT
    jc 3f
    cmp dword ptr [r10 + N_HASH], esi
    ja 9f                                 # past its place: not in the list
    mov r8, r10
    jmp .Lsou_walk
3:  lock cmpxchg dword ptr [r8 + N_NEXT], ecx  # marked (ours or another): past it
    jne .Lsou_walk
    cmp r10, rdi
    jne .Lsou_walk
9:  ret

# index_reclaim: (compactor) unlinks every dead node on the stack of them
# (index_rec_drop) and puts it in limbo; raises the epoch if every worker has
# seen it; gives back the nodes of the limbo that can be given back.
# Clobbers the caller-saved registers.
.globl index_reclaim
index_reclaim:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r15, qword ptr [rip + ix_base]
    lea r14, [r15 + IX_RECLAIM]
.Lrcl_dying:
    mov eax, dword ptr [r14 + RC_DYING]   # take the first: only we take, so it is
    test eax, eax                         # not taken and put back meanwhile (no ABA)
    jz .Lrcl_epoch
    mov ebx, eax
    mov r12, rbx
    shl r12, 4
    add r12, r15                          # the node
    mov ecx, dword ptr [r12 + N_SEQ]
    lock cmpxchg dword ptr [r14 + RC_DYING], ecx
    jne .Lrcl_dying                        # one was pushed: take that first
    mov rdi, r12
    call node_place
    mov r13d, edx                         # split-order key
    push rcx                              # its bucket
    push r8                               # its height
    mov rax, r12                          # 1. its links, top down
    call sl_tower
    mov rsi, rax
    mov edx, r8d
1:  dec edx
    js 2f
    lea rdi, [rsi + rdx*4]
    call mark_link
    jmp 1b
2:  mov rdi, r12
    call mark_link                        # N_NEXT
    mov rdi, r12                          # 2. out of each list
    mov esi, dword ptr [rsp]
    call sl_unlink
    pop rax
    pop rdx
    mov rdi, r12
    mov esi, r13d
    call so_unlink
    lock dec qword ptr [r15 + IX_SO_COUNT]
    mov rax, qword ptr [r14 + RC_EPOCH]   # 3. into limbo
    xor edx, edx
    mov ecx, RC_GENS
    div rcx
    mov eax, dword ptr [r14 + RC_LIMBO + rdx*8]
    mov qword ptr [r12 + N_SEQ], rax
    mov qword ptr [r14 + RC_LIMBO + rdx*8], rbx
    jmp .Lrcl_dying
.Lrcl_epoch:
    mov rax, qword ptr [r14 + RC_EPOCH]
    xor ecx, ecx
1:  cmp ecx, MAX_CHILDREN
    jae 2f
    mov rdx, qword ptr [r14 + RC_SLOTS + rcx*8]
    inc ecx
    test rdx, rdx
    jz 1b
    cmp rdx, rax
    je 1b
    jmp .Lrcl_out                          # a worker is still in an older epoch
2:  inc rax
    mov qword ptr [r14 + RC_EPOCH], rax
    inc rax                               # what was put in limbo two epochs ago
    xor edx, edx                          # (the list the next epoch will fill)
    mov ecx, RC_GENS
    div rcx
    lea r13, [r14 + RC_LIMBO + rdx*8]
.Lrcl_free:
    mov ebx, dword ptr [r13]
    test ebx, ebx
    jz .Lrcl_out
    mov r12, rbx
    shl r12, 4
    add r12, r15
    mov eax, dword ptr [r12 + N_SEQ]      # out of limbo first: killed after it,
    mov qword ptr [r13], rax              # one node is lost, never given twice
    mov rdi, r12
    call node_place
    lea r8, [r14 + RC_FREE + r9*8]
    mov rax, qword ptr [r8]
3:  mov dword ptr [r12 + N_SEQ], eax      # on its size's free list
    mov rcx, rax
    shr rcx, 32
    shl rcx, 32
    or rcx, rbx
    lock cmpxchg qword ptr [r8], rcx
    jne 3b
    lock inc qword ptr [r14 + RC_FREED]
    jmp .Lrcl_free
.Lrcl_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

.section .rodata
ix_name: .asciz "asmkv-index"

.bss
.p2align 3
.globl ix_base, ix_fd
ix_base: .space 8                          # the shared index mapping in this process
ix_fd:   .space 4                          # the memfd behind it
.text
