# index.s - the index: key -> the newest record of the key.
#
# One mapping, shared by the master and every worker (MAP_SHARED, made by the
# master before it forks, so a respawned worker has it too). It is a hash table
# of chains: IX_NBUCKETS chain heads, then nodes allocated from a bump pointer.
# Memory comes as nodes are added (the mapping is reserved, not committed).
#
# There are no locks, so no process can die holding one. Every change is one
# atomic instruction, and a process killed between any two instructions leaves
# a consistent index:
#   - a node is filled in completely before `lock cmpxchg` links it at the head
#     of its chain; killed before that, the node is only leaked space;
#   - a node is never unlinked or moved (a deleted key keeps its node, with a
#     tombstone), so readers follow chains without any protection;
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
    mov rax, qword ptr [rip + ix_base]
    mov qword ptr [rax + IX_NEXT], IX_NODES / IX_UNIT
    mov rdi, qword ptr [rip + ix_base]    # a secret key: chains cannot be aimed at
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
# that share a chain. (FNV-1a from a secret seed could be flooded: for keys of
# one length the difference of two hashes hardly depends on the seed, so
# collisions found once offline work against every server.)
# Clobbers rcx, rdx, rdi, rsi, r8-r11.
key_hash:
    mov rdx, rsi
    mov rsi, rdi
    mov rdi, qword ptr [rip + ix_base]
    add rdi, IX_HASH_KEY
    jmp siphash24

# chain_find: rdi = key, rsi = length, rdx = hash, ecx = first node unit,
# r8d = unit at which to stop (0: the end). Returns rax = the node, or 0.
# Clobbers rcx, r9, r10, r11.
chain_find:
    push rbx
    push r12
    mov r9, qword ptr [rip + ix_base]
    mov r12d, r8d
1:  test ecx, ecx
    jz 4f
    cmp ecx, r12d
    je 4f
    mov eax, ecx
    shl rax, 4                            # IX_UNIT
    add rax, r9
    mov ecx, dword ptr [rax + N_NEXT]
    cmp edx, dword ptr [rax + N_HASH]
    jne 1b
    cmp esi, dword ptr [rax + N_KLEN]
    jne 1b
    xor r10d, r10d                        # compare the keys themselves
2:  cmp r10, rsi
    jae 5f
    movzx r11d, byte ptr [rdi + r10]
    cmp r11b, byte ptr [rax + N_KEY + r10]
    jne 1b
    inc r10
    jmp 2b
4:  xor eax, eax
5:  pop r12
    pop rbx
    ret

# index_lookup: rdi = key, rsi = its length. Returns rax = the key's node, or 0
# if the key was never written. Clobbers the caller-saved registers.
.globl index_lookup
index_lookup:
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov r13, rsi
    call key_hash
    mov rdx, rax
    mov rcx, qword ptr [rip + ix_base]
    mov ebx, eax
    and ebx, IX_NBUCKETS - 1
    mov ecx, dword ptr [rcx + IX_BUCKETS + rbx*4]
    mov rdi, r12
    mov rsi, r13
    xor r8d, r8d
    call chain_find
    pop r13
    pop r12
    pop rbx
    ret

# index_node: rdi = key, rsi = its length (1..NAME_MAX). Returns rax = the
# key's node, added (with no value yet) if the key was never written, or
# -ENOMEM if the index is full. Clobbers the caller-saved registers.
.globl index_node
index_node:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r12, rdi
    mov r13, rsi
    call key_hash
    mov r14, rax                          # hash
    mov rbx, qword ptr [rip + ix_base]
    and eax, IX_NBUCKETS - 1
    lea rbx, [rbx + IX_BUCKETS + rax*4]   # the chain's head
    mov r15d, dword ptr [rbx]             # head as we saw it
    mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    mov ecx, r15d
    xor r8d, r8d
    call chain_find
    test rax, rax
    jnz .Lin_out
    # a new node, filled in before anyone can see it
    lea rcx, [r13 + N_KEY + IX_UNIT - 1]
    shr rcx, 4                            # its size in units
    mov rdx, qword ptr [rip + ix_base]
    mov rax, rcx
    lock xadd qword ptr [rdx + IX_NEXT], rax
    add rcx, rax
    mov r8, IX_MAP_SIZE / IX_UNIT - 1     # units are u32, and the mapping ends
    cmp rcx, r8
    ja .Lin_full
    mov r8d, eax                          # the node's unit
    shl rax, 4
    add rax, rdx
    mov dword ptr [rax + N_KLEN], r13d
    mov dword ptr [rax + N_HASH], r14d
    mov dword ptr [rax + N_RECS], 0
    xor ecx, ecx
    mov qword ptr [rax + N_SEQ], rcx
    mov qword ptr [rax + N_LOC], rcx
1:  cmp rcx, r13
    jae 2f
    movzx edx, byte ptr [r12 + rcx]
    mov byte ptr [rax + N_KEY + rcx], dl
    inc rcx
    jmp 1b
2:  push rax
    push r8
.Lin_link:
    mov rax, qword ptr [rsp + 8]
    mov dword ptr [rax + N_NEXT], r15d
    mov eax, r15d
    mov ecx, dword ptr [rsp]
    lock cmpxchg dword ptr [rbx], ecx
    je .Lin_linked
    # another process linked nodes meanwhile: is our key among them?
    mov r8d, r15d
    mov r15d, eax
    mov ecx, eax
    mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    call chain_find
    test rax, rax
    jz .Lin_link                          # no: link ours in front of them
    add rsp, 16                           # yes: ours stays unlinked (leaked)
    jmp .Lin_out
.Lin_linked:
    pop r8
    pop rax
.Lin_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lin_full:
    mov rax, -ENOMEM
    jmp .Lin_out

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
