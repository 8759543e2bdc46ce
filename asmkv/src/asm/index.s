# index.s - the index: key -> the newest record of the key.
#
# One mapping, shared by the master and every worker (MAP_SHARED, made by the
# master before it forks, so a respawned worker has it too). It is a hash
# table that grows (a split-ordered list, below) for lookups, and an ordered
# list (a skip list, below) for listings, over the same nodes, allocated from
# a bump pointer. Memory comes as nodes are added (the mapping is reserved, not
# committed).
#
# There are no locks, so no process can die holding one. Every change is one
# atomic instruction, and a process killed between any two instructions leaves
# a consistent index:
#   - a node is filled in completely before `lock cmpxchg` links it into the
#     list; killed before that, the node is only leaked space;
#   - a node is never unlinked or moved (a deleted key keeps its node, with a
#     tombstone), so readers follow the list without any protection;
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
# the predecessor's N_NEXT; nodes are never removed, so a walk can stop and
# go on from any node. A dummy is made only if a search finds none, and a
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

# so_search: rdi = a node to start from (one before the key in the list),
# esi = the key's split-order key, rdx = the key, ecx = its length (0: a
# dummy). Walks the list to where the key is or would be.
# Returns rdx = its node or 0; rax = the node to insert after, ecx = that
# node's N_NEXT as read (the unit to insert before). Clobbers rsi, r8-r11.
so_search:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, rdx
    mov r13d, ecx
    mov r11, qword ptr [rip + ix_base]
1:  mov ecx, dword ptr [rbx + N_NEXT]
    test ecx, ecx
    jz 4f
    mov r8d, ecx
    shl r8, 4                             # IX_UNIT
    add r8, r11                           # the next node
    cmp dword ptr [r8 + N_HASH], esi
    jb 3f
    ja 4f
    cmp r13d, dword ptr [r8 + N_KLEN]     # the same split-order key: the key?
    jne 3f
    xor r9d, r9d
2:  cmp r9d, r13d
    jae 5f
    movzx r10d, byte ptr [r12 + r9]
    cmp r10b, byte ptr [r8 + N_KEY + r9]
    jne 3f
    inc r9d
    jmp 2b
3:  mov rbx, r8
    jmp 1b
4:  mov rax, rbx                          # not there: it goes after rbx
    xor edx, edx
    pop r13
    pop r12
    pop rbx
    ret
5:  mov rax, rbx
    mov rdx, r8
    pop r13
    pop r12
    pop rbx
    ret

# so_alloc: ecx = a node's size in units. Returns rax = the node (its unit
# in r8d), taken from the bump pointer, or -ENOMEM when the index is full.
# Clobbers rcx, rdx, r8.
so_alloc:
    mov rdx, qword ptr [rip + ix_base]
    mov rax, rcx
    lock xadd qword ptr [rdx + IX_NEXT], rax
    add rcx, rax
    mov r8, IX_MAP_SIZE / IX_UNIT - 1     # units are u32, and the mapping ends
    cmp rcx, r8
    ja 1f
    mov r8d, eax
    shl rax, 4
    add rax, rdx
    ret
1:  mov rax, -ENOMEM
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
    call so_search
    test rdx, rdx
    jnz 3f                                # there already (ours stays unlinked)
    mov r12, rax
    mov rdi, rax
    mov rsi, r14
    mov edx, r15d
    call so_link
    test eax, eax
    jz 2b
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
# Insert only, and lock-free like the table: a node is filled in, key and
# tower, before the `lock cmpxchg` that links it at level 0, then at each
# level up in turn; a link that fails (a node came in between) walks on from
# the same predecessor, which never moves or goes. A process killed in
# between leaves a short tower, which is still a correct skip list.
# A node goes into the ordered list before the table (index_node), so every
# node a GET can find is in it; one killed between the two, or that lost a
# race to insert the same key, stays in it with no value (nothing can find
# it to give it one): walks of the list skip nodes with no value, and the
# list may hold such twins of a key, which compare equal.

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
# tower the place is after and the unit it is before (as read).
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
    mov rbx, qword ptr [rip + ix_base]
    add rbx, IX_SL_HEAD                   # the tower we stand after
    mov ebp, SL_LEVELS - 1
.Lsk_look:
    mov eax, dword ptr [rbx + rbp*4]
    mov dword ptr [rsp], eax
    test eax, eax
    jz .Lsk_down
    shl rax, 4                            # IX_UNIT
    add rax, qword ptr [rip + ix_base]
    lea rdi, [rax + N_KEY]
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
# level 0 up. Clobbers the caller-saved registers.
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
    lea rdi, [r12 + N_KEY]
    mov esi, dword ptr [r12 + N_KLEN]
    xor edx, edx
    mov rcx, rsp
    call sl_seek
    xor ebp, ebp                          # the level
.Lsi_level:
    cmp ebp, r13d
    jae .Lsi_out
.Lsi_try:
    mov eax, dword ptr [rsp + rbp*4 + SL_SPLICE_SUCC]
    mov dword ptr [rbx + rbp*4], eax      # ours, before anyone can follow it
    mov rdi, qword ptr [rsp + rbp*8]
    lock cmpxchg dword ptr [rdi + rbp*4], r14d
    je .Lsi_up
    mov r15, rdi                          # a node came in there: walk on from the
.Lsi_walk:                                # same tower, to the first at or after ours
    mov eax, dword ptr [r15 + rbp*4]
    mov dword ptr [rsp + rbp*4 + SL_SPLICE_SUCC], eax
    test eax, eax
    jz 1f
    shl rax, 4
    add rax, qword ptr [rip + ix_base]
    push rax
    push rax
    lea rdi, [rax + N_KEY]
    mov esi, dword ptr [rax + N_KLEN]
    lea rdx, [r12 + N_KEY]
    mov ecx, dword ptr [r12 + N_KLEN]
    call key_order
    pop rcx
    pop rcx
    test eax, eax
    jns 1f
    mov rax, rcx
    call sl_tower
    mov r15, rax
    jmp .Lsi_walk
1:  mov qword ptr [rsp + rbp*8], r15
    jmp .Lsi_try
.Lsi_up:
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
# eax = the id of the next node in listing order (0: the end). A walk may stop
# at any node and go on from it later: nodes never move or go.
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
    ret

# index_lookup: rdi = key, rsi = its length. Returns rax = the key's node, or 0
# if the key was never written. Reads only: a bucket not made yet is searched
# from its nearest made ancestor. Clobbers the caller-saved registers.
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
    call so_search
    mov rax, rdx
    pop r13
    pop r12
    pop rbx
    ret

# index_node: rdi = key, rsi = its length (1..NAME_MAX). Returns rax = the
# key's node, added (with no value yet) if the key was never written, or
# -ENOMEM if the index is full. A new node goes into the ordered list, then
# into the table. Clobbers the caller-saved registers.
.globl index_node
index_node:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 32                           # [rsp] the new node, [rsp + 8] its unit,
                                          # [rsp + 16] the unit to insert it before,
                                          # [rsp + 24] its height (sl_height)
    mov r12, rdi
    mov r13, rsi
    call so_place
    mov r15d, edx                         # split-order key
    mov r14d, ecx
    call sl_height
    mov qword ptr [rsp + 24], rax         # its height in the ordered list
    mov edi, r14d
    call so_bucket
    test rax, rax
    js .Lin_out
    mov rbx, rax                          # search from its bucket's dummy
    mov rdi, rbx
    mov esi, r15d
    mov rdx, r12
    mov ecx, r13d
    call so_search
    test rdx, rdx
    jnz .Lin_found
    mov rbx, rax
    mov qword ptr [rsp + 16], rcx
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
    mov dword ptr [rax + N_RECS], 0
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
2:  mov ecx, dword ptr [rsp + 16]        # between rbx and what followed it when
    mov rdi, rbx                          # the search passed (if that changed, the
    mov rsi, qword ptr [rsp]              # link fails and we look again)
    mov edx, dword ptr [rsp + 8]
    call so_link
    test eax, eax
    jnz .Lin_linked
    mov rdi, rbx                          # the list changed there: is our key
    mov esi, r15d                         # among what came?
    mov rdx, r12
    mov ecx, r13d
    call so_search
    test rdx, rdx
    jnz .Lin_found                        # yes: ours stays unlinked (leaked)
    mov rbx, rax
    mov qword ptr [rsp + 16], rcx
    jmp 2b
.Lin_linked:
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
    mov rax, rdx
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
# Returns eax = PUB_NEW or PUB_REPLACED (applied; whether the key had a value;
# rdx = the LOC it replaced), PUB_LOST (a later write of the key is there:
# this one is overwritten) or PUB_EXISTS (create-only, and the key has a
# value: not applied).
# Clobbers rcx, rdx, rsi, rdi, r8, r9.
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
# table. Clobbers nothing else.
.globl index_stats
index_stats:
    mov rdx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rdx + IX_KEYS]
    mov rdx, qword ptr [rdx + IX_SO_SIZE]
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
# longer. It sticks at N_RECS_MANY rather than wrap. Clobbers rax, rcx.
.globl index_rec_add
index_rec_add:
    mov eax, dword ptr [rdi + N_RECS]
1:  cmp eax, N_RECS_MANY
    je 2f
    lea ecx, [eax + 1]
    lock cmpxchg dword ptr [rdi + N_RECS], ecx
    jne 1b                                # eax holds what is there now
2:  ret

# index_recs: rdi = node. Returns eax = the records of its key that may be on
# disk (index_rec_add), at least. Clobbers nothing else.
.globl index_recs
index_recs:
    mov eax, dword ptr [rdi + N_RECS]
    ret

# index_rec_drop: rdi = node. Counts one record of its key fewer: called only
# after the segment that held it is removed. Never below 0; N_RECS_MANY stays.
# When one record is left and it is a delete, that tombstone keeps nothing
# from coming back any more: its segment counts it (SG_DROP, a hint that
# makes the segment worth compacting; compaction checks N_RECS itself).
# Clobbers rax, rcx, rdx.
.globl index_rec_drop
index_rec_drop:
    mov eax, dword ptr [rdi + N_RECS]
1:  cmp eax, N_RECS_MANY
    je 2f
    test eax, eax
    jz 2f
    lea ecx, [eax - 1]
    lock cmpxchg dword ptr [rdi + N_RECS], ecx
    jne 1b
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

.section .rodata
ix_name: .asciz "asmkv-index"

.bss
.p2align 3
.globl ix_base, ix_fd
ix_base: .space 8                          # the shared index mapping in this process
ix_fd:   .space 4                          # the memfd behind it
.text
