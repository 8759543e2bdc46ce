# upload.s - the HTTP side of a write: a PUT's or POST's body and a DELETE,
# handed to the store through the connection's write handle (C_WH), and
# answered by their outcome. The store (store.s) never sees the connection;
# this file never sees a record.
.text

# wh_init: rdi = conn of a write whose head is parsed. Fills the caller's
# fields of its write handle for this request (write_conds has set WH_COND
# and WH_EXPECT already, if the request has preconditions). Returns rax =
# the handle. Clobbers rcx.
wh_init:
    lea rax, [rdi + C_WH]
    lea rcx, [rdi + C_NAME]
    mov qword ptr [rax + WH_KEY], rcx
    mov rcx, qword ptr [rdi + C_NAME_LEN]
    mov qword ptr [rax + WH_KLEN], rcx
    mov ecx, dword ptr [rdi + C_FD]       # one write per socket at a time
    mov dword ptr [rax + WH_FLIGHT], ecx
    lea rcx, [rip + upload_done]
    mov qword ptr [rax + WH_DONE], rcx
    xor ecx, ecx
    mov qword ptr [rax + WH_META], rcx
    mov dword ptr [rax + WH_META_LEN], ecx
    mov qword ptr [rax + WH_DELETE_AT], rcx
    mov qword ptr [rax + WH_VLEN], rcx
    mov dword ptr [rax + WH_FLAGS], ecx
    ret

# start_upload: rdi = conn with C_NAME set; method PUT or POST, framing valid,
# Content-Length (if any) within --max-body.
# A body of known length goes straight into its record (store_put); a
# chunked one into a spool (store_spool). Enters ST_BODY (after a 100
# Continue if the client waits for one), or, when the whole body came with
# the head, commits it at once. On failure answers 507/500/503 and closes.
# Clobbers the caller-saved registers.
.globl start_upload
start_upload:
    push rbx
    mov rbx, rdi
    call wh_init
    mov rdi, rax                          # its metadata, if any, before the value
    call meta_finish
    lea rdi, [rbx + C_WH]
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jz 1f
    call store_spool
    test rax, rax
    js .Lsu_failed
    jmp 2f
1:  mov rax, qword ptr [rbx + C_CL]
    mov qword ptr [rdi + WH_VLEN], rax
    mov rsi, qword ptr [rbx + C_IN_BUF]   # what came with the head
    add rsi, qword ptr [rbx + C_IN_POS]
    mov rdx, qword ptr [rbx + C_IN_LEN]
    sub rdx, qword ptr [rbx + C_IN_POS]
    call store_put
    test rax, rax
    js .Lsu_failed
    jz 2f
    mov rax, qword ptr [rbx + C_CL]       # all of it: one record, one write
    add qword ptr [rbx + C_IN_POS], rax
    mov qword ptr [rbx + C_BODY_LEFT], 0
    mov qword ptr [rbx + C_BODY_TOTAL], rax
    mov rdi, rbx
    call upload_commit
    jmp 9f
2:  mov rdi, rbx
    call begin_body
9:  pop rbx
    ret
.Lsu_failed:
    mov rdi, rax
    call io_kind
    mov esi, eax
    mov rdi, rbx
    call fail
    jmp 9b

# begin_body: rdi = conn of an upload whose body has somewhere to go.
# Enters ST_BODY, and sends 100 Continue if the client waits for one.
# Clobbers the caller-saved registers.
.globl begin_body
begin_body:
    push rbx
    mov rbx, rdi
    xor eax, eax
    mov qword ptr [rbx + C_BODY_TOTAL], rax
    mov dword ptr [rbx + C_CHUNK_ST], CH_SIZE0
    mov qword ptr [rbx + C_CHUNK_CNT], rax
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jnz 1f
    mov rax, qword ptr [rbx + C_CL]
1:  mov qword ptr [rbx + C_BODY_LEFT], rax
    mov dword ptr [rbx + C_STATE], ST_BODY
    mov rdi, rbx
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
    # 100 Continue only to an HTTP/1.1 client that waits for it with a body to send
    mov eax, dword ptr [rbx + C_FLAGS]
    test eax, F_EXPECT
    jz .Lbb_out
    test eax, F_HTTP10
    jnz .Lbb_out
    mov rcx, qword ptr [rbx + C_IN_POS]
    cmp rcx, qword ptr [rbx + C_IN_LEN]
    jne .Lbb_out
    test eax, F_CHUNKED
    jnz 2f
    cmp qword ptr [rbx + C_CL], 0
    je .Lbb_out
2:  mov rdi, rbx
    call respond_continue
.Lbb_out:
    pop rbx
    ret

# finish_upload: rdi = conn whose whole body is stored. Commits it (a chunked
# one's length is known now) and answers, or waits for its group commit.
# Clobbers the caller-saved registers.
.globl finish_upload
finish_upload:
    test dword ptr [rdi + C_FLAGS], F_CHUNKED
    jz upload_commit
    mov rax, qword ptr [rdi + C_BODY_TOTAL]
    mov qword ptr [rdi + C_CL], rax       # the value's length, from now on
    mov qword ptr [rdi + C_WH + WH_VLEN], rax
    # fall through

# upload_commit: rdi = conn whose write's value is complete. Seals and
# commits it (store_commit) and answers by the outcome.
# Clobbers the caller-saved registers.
upload_commit:
    push rbx
    mov rbx, rdi
    lea rdi, [rbx + C_WH]
    call store_commit
    mov rdi, rbx
    mov rsi, rax
    pop rbx
    jmp write_outcome

# abort_upload: rdi = conn. Drops its unfinished or failed write, if it has
# one (store_abort): the key keeps its old value. Clobbers rax, rcx, rdx,
# rsi, rdi, r11 (keeps r8-r10).
.globl abort_upload
abort_upload:
    add rdi, C_WH
    jmp store_abort

# write_outcome: rdi = conn whose write's body was read whole, rsi = the
# outcome of store_commit or store_delete. COMMIT_WRITTEN: the conn waits
# for the group commit (ST_COMMIT; upload_done answers). Otherwise answers:
# a put's 201/204 with its validators, a 412 with the key's tag if it has a
# value, a failure as 507/500/503 (the framing is intact: the connection
# stays usable). Clobbers the caller-saved registers.
write_outcome:
    cmp rsi, COMMIT_WRITTEN
    jne 1f
    mov dword ptr [rdi + C_STATE], ST_COMMIT
    ret
1:  push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    test rsi, rsi
    jns 2f
    mov rdi, rsi
    call io_kind
    mov r12d, eax
    jmp 8f
2:  cmp r12d, R_412
    jne 3f
    test dword ptr [rbx + C_WH + WH_FLAGS], WF_TAGGED
    jz 8f
    mov rax, qword ptr [rbx + C_WH + WH_TAG]
    mov qword ptr [rbx + C_TAG_SEQ], rax
    or dword ptr [rbx + C_COND], CD_TAG
    jmp 8f
3:  cmp r12d, R_404                       # (a delete of nothing)
    je 8f
    test dword ptr [rbx + C_WH + WH_FLAGS], WF_DELETE
    jnz 8f
    mov rdi, rbx                          # a value: the answer carries its validators
    mov rsi, qword ptr [rbx + C_WH + WH_SEQ]
    mov rdx, qword ptr [rbx + C_WH + WH_TIME]
    call set_validators
8:  mov rdi, rbx
    mov esi, r12d
    call respond
    add rsp, 8
    pop r12
    pop rbx
    ret

# upload_done: (WH_DONE, from commit_done on the event loop) rdi = the write
# handle of a conn in ST_COMMIT, rsi = its outcome. Answers it and sends what
# the socket takes now. Clobbers the caller-saved registers.
upload_done:
    push rbx
    lea rbx, [rdi - C_WH]
    cmp dword ptr [rip + w_stopping], 0   # it was routed before the stop and is
    je 1f                                 # closed after this answer: it says so
    or dword ptr [rbx + C_FLAGS], F_CLOSE
1:  mov rdi, rbx
    call write_outcome
    mov rdi, rbx
    call conn_drive
    pop rbx
    ret

# do_delete: rdi = conn with C_NAME set. Deletes the key (store_delete) and
# answers: 204 once the delete is durable, 404 if the key had no value, 412
# by its preconditions. Clobbers the caller-saved registers.
.globl do_delete
do_delete:
    push rbx
    mov rbx, rdi
    call wh_init
    mov rdi, rax
    call store_delete
    mov rdi, rbx
    mov rsi, rax
    pop rbx
    jmp write_outcome
