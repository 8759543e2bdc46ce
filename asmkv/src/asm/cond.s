# cond.s - conditional requests (RFC 9110 13): validators and preconditions.
#
# A value's entity-tag is the sequence number of its record, `"DIGITS"`:
# strong (it changes with every write of the key and no two writes share
# one, across restarts too - see recover.s), and cheap (the index holds it).
# Its Last-Modified is the record's time, when the write began.
# Preconditions are evaluated in the order of RFC 9110 13.2.2. For a write,
# route_request evaluates them before the body is read (a client waiting for
# 100 Continue gets its 412 at once) and turns them into one expectation
# about the key (the write handle's WH_COND) that cond_claim (flight.s) checks again,
# atomically, when the write is sealed.
.text

# tag_in: rsi = sequence numbers (u64), ecx = their count, rdx = a sequence
# number. Returns eax = 1 if it is among them, else 0. Clobbers rcx.
tag_in:
    xor eax, eax
1:  test ecx, ecx
    jz 2f
    dec ecx
    cmp rdx, qword ptr [rsi + rcx*8]
    jne 1b
    inc eax
2:  ret

# eval_conds: rdi = conn; CD_TAG/C_TAG_SEQ say whether the key has a value
# and its tag, CD_TIME/C_TAG_TIME its Last-Modified when known.
# Returns eax = 0 (go on), R_304 (GET/HEAD: not modified) or R_412.
# Clobbers rcx, rdx, rsi, r8.
.globl eval_conds
eval_conds:
    mov r8d, dword ptr [rdi + C_COND]
    test r8d, CD_IM                       # 1. If-Match
    jz 2f
    test r8d, CD_TAG
    jz .Lec_412                           # no value: nothing matches, not even "*"
    test r8d, CD_IM_STAR
    jnz 3f
    lea rsi, [rdi + C_IM]
    mov ecx, dword ptr [rdi + C_IM_N]
    mov rdx, qword ptr [rdi + C_TAG_SEQ]
    call tag_in
    test eax, eax
    jz .Lec_412
    jmp 3f
2:  test r8d, CD_IUS                      # 2. If-Unmodified-Since (ignored without a date)
    jz 3f
    test r8d, CD_TIME
    jz 3f
    mov rdx, qword ptr [rdi + C_TAG_TIME]
    cmp rdx, qword ptr [rdi + C_IUS]
    jg .Lec_412
3:  test dword ptr [rdi + C_FLAGS], F_IF_NONE_STAR   # 3. If-None-Match
    jz 4f
    test r8d, CD_TAG
    jnz .Lec_not_modified
    jmp .Lec_ok
4:  test r8d, CD_INM
    jz 5f
    test r8d, CD_TAG
    jz .Lec_ok
    lea rsi, [rdi + C_INM]
    mov ecx, dword ptr [rdi + C_INM_N]
    mov rdx, qword ptr [rdi + C_TAG_SEQ]
    call tag_in
    test eax, eax
    jnz .Lec_not_modified
    jmp .Lec_ok
5:  test r8d, CD_IMS                      # 4. If-Modified-Since: GET and HEAD only
    jz .Lec_ok
    test r8d, CD_TIME
    jz .Lec_ok
    mov ecx, dword ptr [rdi + C_METHOD]
    cmp ecx, M_GET
    je 6f
    cmp ecx, M_HEAD
    jne .Lec_ok
6:  mov rdx, qword ptr [rdi + C_TAG_TIME]
    cmp rdx, qword ptr [rdi + C_IMS]
    jle .Lec_304
.Lec_ok:
    xor eax, eax
    ret
.Lec_not_modified:
    mov ecx, dword ptr [rdi + C_METHOD]
    cmp ecx, M_GET
    je .Lec_304
    cmp ecx, M_HEAD
    je .Lec_304
.Lec_412:
    mov eax, R_412
    ret
.Lec_304:
    mov eax, R_304
    ret

# set_validators: rdi = conn, rsi = the key's sequence number, rdx = the
# record's time. The answer will carry them (ETag, Last-Modified); a time
# ahead of the clock (it was set back) is given as now (RFC 9110 8.8.2.1).
# Clobbers rax.
.globl set_validators
set_validators:
    mov qword ptr [rdi + C_TAG_SEQ], rsi
    mov rax, qword ptr [rip + w_unix]
    cmp rdx, rax
    jg 1f
    mov rax, rdx
1:  mov qword ptr [rdi + C_TAG_TIME], rax
    or dword ptr [rdi + C_COND], CD_TAG | CD_TIME
    ret

# write_conds: rdi = conn of a PUT, POST or DELETE with preconditions.
# Evaluates them against the key now (key_state) and, if they hold, sets the
# expectation the write will claim the key with (its write handle's WH_COND,
# WH_EXPECT).
# Returns eax = 0, R_412 (with the key's tag, if it has a value), or another
# R_* if the key's record cannot be read. Clobbers the caller-saved registers.
.globl write_conds
write_conds:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov rbx, rdi
    mov r14d, COND_TRIES
1:  and dword ptr [rbx + C_COND], ~CD_TAG
    mov qword ptr [rsp], 0                # the key's value has expired
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call key_state
    test rax, rax
    js 9f
    mov r12, rax                          # the key's sequence number
    cmp edx, KS_EXPIRED                   # expired: no value to every condition;
    jne 10f                               # a create-only write then expects that
    mov qword ptr [rbx + C_WH + WH_EXPECT], r12  # very write (WC_SEQ), so it
    mov qword ptr [rsp], 1                # succeeds only if nothing was written since
    jmp 2f
10: cmp edx, KS_VALUE
    jne 2f
    mov r13, rcx                          # its LOC
    mov qword ptr [rbx + C_TAG_SEQ], r12
    or dword ptr [rbx + C_COND], CD_TAG
    mov eax, dword ptr [rbx + C_COND]
    and eax, CD_IUS | CD_IM
    cmp eax, CD_IUS                       # only If-Unmodified-Since needs the time
    jne 2f
    mov rdi, r13
    call rec_time
    test rax, rax
    jns 7f
    cmp rax, -ENOENT                      # compaction removed its segment since
    jne 9f                                # the key was read: read it again
    dec r14d
    jnz 1b
    jmp 9f
7:  mov rdi, rbx
    mov rsi, r12
    mov rdx, rax
    call set_validators
2:  mov rdi, rbx
    call eval_conds
    test eax, eax
    jnz .Lwc_out
    mov r8d, dword ptr [rbx + C_COND]
    xor ecx, ecx                          # WC_*
    test r8d, CD_IM
    jz 3f
    or ecx, WC_PRESENT                    # If-Match: *
    test r8d, CD_IM_STAR
    jnz 5f
    jmp 4f
3:  test r8d, CD_TAG                      # If-Unmodified-Since, of a value
    jz 5f
    test r8d, CD_IUS
    jnz 4f
    test r8d, CD_INM                      # If-None-Match with tags, of a value
    jz 5f
4:  or ecx, WC_SEQ                        # the very write the client saw
    mov qword ptr [rbx + C_WH + WH_EXPECT], r12
5:  test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jz 6f
    or ecx, WC_ABSENT
    cmp qword ptr [rsp], 0
    je 6f
    xor ecx, WC_ABSENT | WC_SEQ | WC_EXPIRED  # (WH_EXPECT: the expired write)
6:  and r8d, ~(CD_TAG | CD_TIME)          # the answer carries the new write's
    mov dword ptr [rbx + C_COND], r8d
    mov dword ptr [rbx + C_WH + WH_COND], ecx
    xor eax, eax
.Lwc_out:
    add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
9:  mov rdi, rax
    call io_kind
    jmp .Lwc_out
