# flight.s - writes in flight, and the claims of conditional writes.
#
# A conditional write (If-Match, If-Unmodified-Since, If-None-Match) must see
# every write of its key that is ordered before it. Writes are ordered by
# their sequence numbers, taken when they are sealed, but they reach the
# index only after their group commit; a plain write sealed just before a
# conditional one may still be on its way. So every write announces itself
# first, in a registry in the shared index (IX_FLIGHT): one entry per worker
# slot and socket, naming its key's node (its unit) and, once it has one, its sequence
# number. A plain write sets its entry before it takes its number (the
# `lock xadd` orders the two), so a conditional write that took its number
# later and then reads the registry sees every write numbered before it:
# if one of them is of its key, the outcome of the condition is not known
# yet and the answer is 412.
#
# A conditional write that finds none claims the key: one `lock cmpxchg16b`
# checks its condition against the key's newest write and sets LOC_CLAIM on
# it. The pair is otherwise unchanged - readers still get the old value - and
# no other conditional write can claim the key until this one is published
# (index_settle) or given up (index_unclaim). Plain writes numbered after it
# are ordered after it and simply replace it.
#
# Kill -9: a dead worker's entries are cleared by its successor before it
# serves (flight_reset); a claim whose writer is gone (no entry names its key)
# is stale and may be taken over. No step waits for another process.
.text

# flight_entry: returns rax = this worker's registry entry for socket edi.
# Clobbers rcx.
flight_entry:
    mov eax, dword ptr [rip + w_slot]
    shl rax, 16                           # MAX_FDS entries per slot
    mov ecx, edi
    add rax, rcx
    shl rax, 4                            # FL_SIZE
    add rax, qword ptr [rip + ix_base]
    add rax, IX_FLIGHT
    ret

# flight_reset: (worker, at start) clears the entries its slot's previous
# worker may have left. Clobbers the caller-saved registers.
.globl flight_reset
flight_reset:
    mov rcx, qword ptr [rip + ix_base]
    mov eax, dword ptr [rip + w_slot]
    mov esi, dword ptr [rcx + IX_FLIGHT_HI + rax*4]
    xor edi, edi
    call flight_entry
    shl rsi, 4
    xor ecx, ecx
1:  cmp rcx, rsi
    jae 2f
    mov qword ptr [rax + rcx + FL_NODE], 0
    add rcx, FL_SIZE
    jmp 1b
2:  ret

# flight_enter: rdi = write handle (WH_NODE set), rsi = its sequence number, or
# FL_UNKNOWN before it has one (then flight_seq follows). Registers the write
# as in flight. No fence: a plain write's `lock xadd` for its number comes
# next and orders the entry before it; a conditional write fences in cond_claim. Clobbers rax, rcx, rdx, rdi.
.globl flight_enter
flight_enter:
    mov rdx, rdi
    mov edi, dword ptr [rdx + WH_FLIGHT]
    mov rax, qword ptr [rip + ix_base]    # raise the bound readers scan to
    mov ecx, dword ptr [rip + w_slot]
    lea rcx, [rax + IX_FLIGHT_HI + rcx*4]
    lea eax, [rdi + 1]
    cmp eax, dword ptr [rcx]
    jbe 1f
    mov dword ptr [rcx], eax
1:  call flight_entry
    mov qword ptr [rax + FL_SEQ], rsi     # the number first, then the node
    mov ecx, dword ptr [rdx + WH_NODE]
    mov qword ptr [rax + FL_NODE], rcx
    ret

# flight_seq: rdi = write handle (registered), rsi = the sequence number it took.
# Clobbers rax, rcx, rdi.
.globl flight_seq
flight_seq:
    mov edi, dword ptr [rdi + WH_FLIGHT]
    call flight_entry
    mov qword ptr [rax + FL_SEQ], rsi
    ret

# flight_leave: rdi = write handle. Its write is no longer in flight (published or
# given up: the index already shows which). Clobbers rax, rcx, rdi.
.globl flight_leave
flight_leave:
    mov edi, dword ptr [rdi + WH_FLIGHT]
    call flight_entry
    mov qword ptr [rax + FL_NODE], 0
    ret

# flight_conflict: rdi = write handle (registered, WH_NODE and WH_SEQ set), esi = 1 to
# count every other write of the key, 0 for only those ordered before this
# one (a lower or not yet known sequence number).
# Returns eax = 1 if another write of the key is in flight, else 0.
# Clobbers the caller-saved registers.
flight_conflict:
    push rbx
    push r12
    push r13
    mov r12d, dword ptr [rdi + WH_NODE]
    mov r13, qword ptr [rdi + WH_SEQ]
    test esi, esi
    jz 1f
    mov r13, FL_UNKNOWN                   # every number is below it... but its own
1:  mov edi, dword ptr [rdi + WH_FLIGHT]
    call flight_entry
    mov rbx, rax                          # our own entry, skipped
    mov r8, qword ptr [rip + ix_base]
    xor r9d, r9d                          # slot
2:  cmp r9d, dword ptr [rip + cfg_workers]
    jae 6f
    mov r10d, dword ptr [r8 + IX_FLIGHT_HI + r9*4]
    mov rax, r9
    shl rax, 20                           # MAX_FDS * FL_SIZE bytes per slot
    lea rdi, [r8 + rax + IX_FLIGHT]
    shl r10, 4
    add r10, rdi                          # the end of its entries
3:  cmp rdi, r10
    jae 5f
    cmp qword ptr [rdi + FL_NODE], r12
    jne 4f
    cmp rdi, rbx
    je 4f
    mov rax, qword ptr [rdi + FL_SEQ]     # read after the node: it was set before
    cmp rax, FL_UNKNOWN
    je 7f
    cmp rax, r13
    jb 7f
4:  add rdi, FL_SIZE
    jmp 3b
5:  inc r9d
    jmp 2b
6:  xor eax, eax
    jmp 8f
7:  mov eax, 1
8:  pop r13
    pop r12
    pop rbx
    ret

# cond_claim: rdi = write handle of a conditional write (WH_COND), registered
# with its sequence number (WH_SEQ). Checks the condition against the key's
# newest write and, if it holds, claims the key (LOC_CLAIM). Returns eax = 0
# (claimed: WF_CLAIMED, WH_EXPECT = the sequence number claimed, WF_HAD if
# the key had a value) or R_412 (WH_TAG and WF_TAGGED for the key's current
# value, if it has one).
# Clobbers the caller-saved registers.
.globl cond_claim
cond_claim:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mfence                                # our entry is seen before we read theirs
    xor esi, esi                          # (a plain write's lock xadd orders its own)
    call flight_conflict
    test eax, eax
    jnz .Lcc_refuse_now
    mov edi, dword ptr [rbx + WH_NODE]
    call index_node_at
    mov r12, rax
.Lcc_again:
    mov rdi, r12
    call index_state
    bt rdx, LOC_CLAIM_BIT                 # held by another write -
    jnc 1f                                # unless no write of the key is in flight
    push rax                              # (its writer died): then it is stale
    push rdx
    mov rdi, rbx
    mov esi, 1
    call flight_conflict
    mov ecx, eax
    pop rdx
    pop rax
    test ecx, ecx
    jnz .Lcc_refuse
1:  mov r13, ~LOC_CLAIM
    and r13, rdx                          # the key's newest write, unclaimed
    xor ecx, ecx                          # ecx = 1 if it is a value
    test r13, r13
    jz 2f
    bt r13, LOC_TOMB_BIT
    jc 2f
    inc ecx
2:  mov r8d, dword ptr [rbx + WH_COND]
    test r8d, WC_ABSENT
    jz 3f
    test ecx, ecx
    jnz .Lcc_refuse
3:  test r8d, WC_PRESENT | WC_SEQ
    jz 4f
    test r8d, WC_EXPIRED                  # (the expired write it expects may have
    jnz 5f                                # been given back since: its number will do)
    test ecx, ecx
    jz .Lcc_refuse
5:  test r8d, WC_SEQ
    jz 4f
    cmp rax, qword ptr [rbx + WH_EXPECT]
    jne .Lcc_refuse
4:  push rcx
    push rax
    mov rdi, r12
    mov rsi, rax
    mov rcx, LOC_CLAIM
    or rcx, r13
    call index_swap
    mov ecx, eax
    pop rax
    test ecx, ecx
    pop rcx
    jz .Lcc_again
    mov qword ptr [rbx + WH_EXPECT], rax
    or dword ptr [rbx + WH_FLAGS], WF_CLAIMED
    test ecx, ecx
    jz 5f
    test dword ptr [rbx + WH_COND], WC_EXPIRED
    jnz 5f
    or dword ptr [rbx + WH_FLAGS], WF_HAD
5:  xor eax, eax
    jmp .Lcc_out
.Lcc_refuse_now:
    mov edi, dword ptr [rbx + WH_NODE]
    call index_node_at
    mov rdi, rax
    call index_state
.Lcc_refuse:                              # rax:rdx = the key's newest write
    mov rcx, ~LOC_CLAIM
    and rdx, rcx
    jz 6f
    bt rdx, LOC_TOMB_BIT
    jc 6f
    mov qword ptr [rbx + WH_TAG], rax
    or dword ptr [rbx + WH_FLAGS], WF_TAGGED
6:  mov eax, R_412
.Lcc_out:
    pop r13
    pop r12
    pop rbx
    ret

