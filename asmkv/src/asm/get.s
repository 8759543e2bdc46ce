# get.s - answering a GET or HEAD of a key from what the store finds
# (store_get): its preconditions, its validators, one byte range, and where
# the answer's bytes come from.
.text

# do_get: rdi = conn with C_NAME set; method GET or HEAD.
# A path ending in "/" is a listing (list.s). Otherwise answers from the
# key's value: 200, 206 or 416 for a range, 304 or 412 by the preconditions,
# 404 if it has none, 500 if its record does not check out.
# Clobbers the caller-saved registers.
.globl do_get
do_get:
    test dword ptr [rdi + C_FLAGS], F_LIST  # a path ending in "/": its listing
    jnz list_begin
    push rbx
    sub rsp, FV_SIZE + 8
    mov rbx, rdi
    and dword ptr [rbx + C_COND], ~(CD_TAG | CD_TIME)
    mov dword ptr [rbx + C_META], 0
    mov dword ptr [rbx + C_CC_LEN], 0
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    mov rdx, rsp
    call store_get
    cmp eax, R_404
    je .Ldg_absent
    test eax, eax
    jnz .Ldg_respond
    mov rdi, rbx
    mov rsi, qword ptr [rsp + FV_SEQ]
    mov rdx, qword ptr [rsp + FV_TIME]
    call set_validators
    mov eax, dword ptr [rsp + FV_META]
    mov dword ptr [rbx + C_META], eax
    mov rdi, rbx
    call eval_conds
    test eax, eax
    jz .Ldg_serve
    cmp eax, R_304                        # a 304 carries the stored Cache-Control
    jne .Ldg_respond                      # (RFC 9110 15.4.5)
    cmp dword ptr [rbx + C_META], 0
    je .Ldg_respond
    mov rdi, qword ptr [rsp + FV_BLOCK]
    mov esi, dword ptr [rsp + FV_META]
    call meta_cache_control
    test rax, rax
    jz 1f
    cmp rax, 1                            # several, or one too long for the
    je .Ldg_serve                         # head's room - only in a record written
    cmp rdx, OUT_CAP - HEAD_304_MAX       # before writes joined them into one line
    ja .Ldg_serve                         # of CC_VALUE_MAX (meta.s): the 200
    mov qword ptr [rbx + C_CC], rax
    mov dword ptr [rbx + C_CC_LEN], edx
1:  mov eax, R_304
    jmp .Ldg_respond
.Ldg_serve:
    mov rdi, rbx
    mov rsi, rsp
    call serve_value
.Ldg_out:
    add rsp, FV_SIZE + 8
    pop rbx
    ret
.Ldg_absent:
    mov rdi, rbx                          # If-Match fails; the rest do not matter
    call eval_conds
    test eax, eax
    jnz .Ldg_respond
    mov eax, R_404
.Ldg_respond:
    mov rdi, rbx
    mov esi, eax
    call respond
    jmp .Ldg_out

# serve_value: rdi = conn (GET or HEAD), rsi = the value store_get found.
# Answers 200, or for one satisfiable byte range of a GET 206 (416 if it starts
# past the end), and leaves the bytes to send: copied after the head when they
# fit there and are in memory (one write for the whole answer), else to the
# write step's sendfile. A value with metadata (C_META: its block) is sent
# after its block, which ends the head.
# Clobbers the caller-saved registers.
serve_value:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, qword ptr [rsi + FV_LEN]
    mov r13d, dword ptr [rsi + FV_FD]
    mov r14, qword ptr [rsi + FV_OFF]
    mov r15, qword ptr [rsi + FV_MEM]
    # one byte range, for GET only (RFC 9110 14.2): rdx = first, rsi = count
    cmp dword ptr [rbx + C_METHOD], M_GET
    jne .Lsv_whole
    mov eax, dword ptr [rbx + C_FLAGS]
    and eax, F_RANGE | F_RANGE_IGNORE
    cmp eax, F_RANGE
    jne .Lsv_whole
    test dword ptr [rbx + C_COND], CD_IF_RANGE  # only for the value its tag names
    jz 1f
    mov rax, qword ptr [rbx + C_IF_RANGE]
    cmp rax, qword ptr [rbx + C_TAG_SEQ]
    jne .Lsv_whole
1:
    mov rcx, r12
    lea rsi, [rcx - 1]
    test dword ptr [rbx + C_FLAGS], F_RANGE_SUFFIX
    jz 3f
    mov rax, qword ptr [rbx + C_RANGE_A]  # the last N bytes
    test rax, rax
    jz .Lsv_unsatisfiable
    test rcx, rcx
    jz .Lsv_unsatisfiable
    mov rdx, rcx
    sub rdx, rax
    jae 4f
    xor edx, edx                          # more than the whole value: all of it
    jmp 4f
3:  mov rdx, qword ptr [rbx + C_RANGE_A]
    cmp rdx, rcx
    jae .Lsv_unsatisfiable                # starts past the end
    cmp rsi, qword ptr [rbx + C_RANGE_B]
    jbe 4f
    mov rsi, qword ptr [rbx + C_RANGE_B]  # ends before the end of the value
4:  sub rsi, rdx
    inc rsi                               # bytes to send, at least one
    push rdx
    push rsi
    mov rdi, rbx
    mov rcx, r12
    call respond_value
    pop rsi
    pop rdx
    jmp .Lsv_send
.Lsv_whole:
    mov rdi, rbx
    mov rsi, r12
    xor edx, edx
    mov rcx, RANGE_OPEN
    call respond_value
    xor edx, edx
    mov rsi, r12
    cmp dword ptr [rbx + C_METHOD], M_HEAD
    jne .Lsv_send
    xor esi, esi                          # HEAD: the same head, no body
.Lsv_send:
    mov eax, dword ptr [rbx + C_META]
    test rax, rax
    jnz .Lsv_meta
    test rsi, rsi
    jz .Lsv_out
    test r15, r15
    jz .Lsv_file
    mov rax, qword ptr [rbx + C_OUT_LEN]
    lea rcx, [rax + rsi]
    cmp rcx, OUT_CAP
    ja .Lsv_file
    mov qword ptr [rbx + C_OUT_LEN], rcx
    lea rdi, [rbx + rax + C_OUT]
    lea rax, [r15 + rdx]
    mov rdx, rsi
    mov rsi, rax
    call copy
    jmp .Lsv_out
.Lsv_file:
    mov dword ptr [rbx + C_GET_FD], r13d
    add rdx, r14
    mov qword ptr [rbx + C_FILE_OFF], rdx
    mov qword ptr [rbx + C_FILE_LEFT], rsi
    jmp .Lsv_out
.Lsv_meta:                                # rax = the block: it goes first (it ends
    test r15, r15                         # the head), then the bytes asked for:
    jz 3f                                 # after the head if all of it is in
    mov rcx, qword ptr [rbx + C_OUT_LEN]  # memory and fits, in one write (the
    add rcx, rax                          # block is in memory just before the
    add rcx, rsi                          # value)
    cmp rcx, OUT_CAP
    ja 3f
    mov qword ptr [rbx + C_OUT_LEN], rcx
    push rdx
    push rsi
    sub rcx, rsi
    sub rcx, rax                          # the head's length
    lea rdi, [rbx + rcx + C_OUT]
    mov rsi, r15
    sub rsi, rax
    mov rdx, rax
    call copy
    pop rdx                               # the bytes asked for: count,
    pop rsi                               #   and the first of them
    add rsi, r15
    mov rdi, rax
    call copy
    jmp .Lsv_out
3:  mov dword ptr [rbx + C_GET_FD], r13d  # else from the file
    mov rcx, r14
    sub rcx, rax
    mov qword ptr [rbx + C_FILE_OFF], rcx
    test rdx, rdx
    jnz 1f
    add rax, rsi                          # from the value's start: one range
    mov qword ptr [rbx + C_FILE_LEFT], rax
    jmp .Lsv_out
1:  mov qword ptr [rbx + C_FILE_LEFT], rax
    mov qword ptr [rbx + C_RANGE_A], rdx  # (the request's range is decided)
    mov qword ptr [rbx + C_RANGE_B], rsi
    or dword ptr [rbx + C_FLAGS], F_FILE2
    jmp .Lsv_out
.Lsv_unsatisfiable:
    mov qword ptr [rbx + C_RANGE_B], r12
    mov rdi, rbx
    mov esi, R_416
    call respond
.Lsv_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
