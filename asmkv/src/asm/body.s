# body.s - request bodies: Content-Length or chunked, streamed into the upload's
# record (or a chunked one's spool file) through the connection's input buffer
# (constant memory), or,
# for a GET/HEAD/DELETE that came with one, read and dropped.
.text

# start_discard: rdi = conn of a GET, HEAD or DELETE that announced a body of
# C_CL <= DISCARD_MAX bytes. Enters ST_BODY to read and drop it; the request is
# carried out when it is complete (answer_after_discard).
# Clobbers rax, rsi.
.globl start_discard
start_discard:
    or dword ptr [rdi + C_FLAGS], F_DISCARD
    xor eax, eax
    mov qword ptr [rdi + C_BODY_TOTAL], rax
    mov rax, qword ptr [rdi + C_CL]
    mov qword ptr [rdi + C_BODY_LEFT], rax
    mov dword ptr [rdi + C_STATE], ST_BODY
    mov rsi, qword ptr [rip + cfg_io_timeout]
    jmp set_deadline

# answer_after_discard: rdi = conn whose dropped body is complete.
# Carries out its GET, HEAD or DELETE. Clobbers the caller-saved registers.
answer_after_discard:
    and dword ptr [rdi + C_FLAGS], ~F_DISCARD
    cmp dword ptr [rdi + C_METHOD], M_DELETE
    je do_delete
    jmp do_get

# body_step: rdi = conn in ST_BODY. Stores buffered body bytes, then reads more.
# Finishes the upload when the body is complete.
# Returns eax = STEP_GO, STEP_WAIT or STEP_CLOSED. Clobbers the caller-saved registers.
.globl body_step
body_step:
    push rbx
    mov rbx, rdi
    mov rdx, qword ptr [rbx + C_IN_LEN]
    sub rdx, qword ptr [rbx + C_IN_POS]
    jz .Lbs_stored
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jz 1f
    mov rdi, rbx
    call chunk_feed
    test eax, eax
    jnz .Lbs_reject
    jmp .Lbs_stored
1:  cmp rdx, qword ptr [rbx + C_BODY_LEFT]
    jbe 2f
    mov rdx, qword ptr [rbx + C_BODY_LEFT]
2:  mov rdi, rbx
    call store_bytes
    test rax, rax
    js .Lbs_io_error
.Lbs_stored:
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jz 3f
    cmp dword ptr [rbx + C_CHUNK_ST], CH_DONE
    je .Lbs_complete
    jmp 4f
3:  cmp qword ptr [rbx + C_BODY_LEFT], 0
    je .Lbs_complete
4:  mov rax, qword ptr [rbx + C_IN_POS]   # everything buffered is consumed
    cmp rax, qword ptr [rbx + C_IN_LEN]
    jne .Lbs_go
    xor eax, eax
    mov qword ptr [rbx + C_IN_POS], rax
    mov qword ptr [rbx + C_IN_LEN], rax
    test dword ptr [rbx + C_RX], RX_DRAINED
    jnz .Lbs_wait                         # nothing to read until the next event
    test dword ptr [rbx + C_FLAGS], F_CHUNKED | F_DISCARD
    jnz 6f                                # (a body of known length: its record)
    mov rdx, qword ptr [rbx + C_BODY_LEFT]
    cmp rdx, IN_CAP
    ja .Lbs_direct
6:  mov rdi, rbx
    call inbuf_get
    mov rsi, rax
    mov edi, dword ptr [rbx + C_FD]
    mov edx, IN_CAP
    mov eax, SYS_read
    syscall
    test rax, rax
    jle 5f
    mov qword ptr [rbx + C_IN_LEN], rax
    mov rdi, rbx
    call note_short_read
    mov rdi, rbx                          # progress: the stall clock restarts
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
.Lbs_go:
    mov eax, STEP_GO
    pop rbx
    ret
5:
.Lbs_read_end:                            # rax = what a read returned, <= 0
    cmp rax, -EAGAIN
    je .Lbs_wait
    cmp rax, -EINTR
    je .Lbs_go
    # end of stream or error mid-body: the client is gone, the old value stays
    mov rdi, rbx
    call conn_close
    mov eax, STEP_CLOSED
    pop rbx
    ret
.Lbs_wait:
    mov eax, STEP_WAIT
    pop rbx
    ret
.Lbs_complete:
    mov rdi, rbx
    test dword ptr [rbx + C_FLAGS], F_DISCARD
    jnz 6f
    call finish_upload
    jmp .Lbs_go
6:  call answer_after_discard
    jmp .Lbs_go
.Lbs_direct:                              # rdx = body bytes left, > IN_CAP
    # a long Content-Length body into its record: read into the worker's
    # scratch buffer, never past the body, and stored at once - one read and
    # one write for BODY_DIRECT bytes instead of eight of each through the
    # connection's input buffer, which holds nothing meanwhile
    cmp rdx, BODY_DIRECT
    jbe 1f
    mov edx, BODY_DIRECT
1:  push rdx                              # asked
    mov edi, dword ptr [rbx + C_FD]
    lea rsi, [rip + w_direct]
    mov eax, SYS_read
    syscall
    pop rdx
    test rax, rax
    jle .Lbs_read_end
    mov rdi, rbx
    call note_short_read
    push rax                              # got
    push rax
    lea rdi, [rbx + C_WH]
    lea rsi, [rip + w_direct]
    mov rdx, rax
    call store_append
    pop rdx
    pop rdx
    test rax, rax
    js .Lbs_io_error
    sub qword ptr [rbx + C_BODY_LEFT], rdx
    add qword ptr [rbx + C_BODY_TOTAL], rdx
    mov rdi, rbx                          # progress: the stall clock restarts
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
    cmp qword ptr [rbx + C_BODY_LEFT], 0
    je .Lbs_complete
    jmp .Lbs_go
.Lbs_io_error:
    mov rdi, rax
    call io_kind
.Lbs_reject:
    push rax
    push rax
    mov rdi, rbx
    call abort_upload
    pop rsi
    pop rsi
    mov rdi, rbx
    call fail
    jmp .Lbs_go

# store_bytes: rdi = conn, rdx = count of input bytes at in_pos to append to
# the upload (store_append), or to drop (F_DISCARD) (count <= body bytes
# left). Advances in_pos, lowers C_BODY_LEFT, raises C_BODY_TOTAL.
# Returns rax = 0 or -errno of the file write. Clobbers rcx, rdx, rsi, rdi,
# r8-r11.
store_bytes:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rdx
    xor eax, eax
    test dword ptr [rbx + C_FLAGS], F_DISCARD
    jnz 2f
    lea rdi, [rbx + C_WH]
    mov rsi, qword ptr [rbx + C_IN_BUF]
    add rsi, qword ptr [rbx + C_IN_POS]
    call store_append
    test rax, rax
    js 1f
2:  add qword ptr [rbx + C_IN_POS], r12
    sub qword ptr [rbx + C_BODY_LEFT], r12
    add qword ptr [rbx + C_BODY_TOTAL], r12
1:  add rsp, 8
    pop r12
    pop rbx
    ret

# chunk_feed: rdi = conn in a chunked upload. Decodes input [in_pos .. in_len)
# (RFC 9112 7.1): chunk data goes to the file, sizes, extensions and trailers
# are checked and dropped. Stops at the end of the body (CH_DONE), leaving any
# pipelined bytes after it in the buffer.
# Returns eax = 0, or an R_* kind: 400 bad syntax, 413 over --max-body,
# 431 trailers too large, 500/507 file write failed.
# Clobbers the caller-saved registers.
chunk_feed:
    push rbx
    push r12
    push r13
    mov rbx, rdi
.Lcf_next:
    mov r12, qword ptr [rbx + C_IN_POS]
    cmp r12, qword ptr [rbx + C_IN_LEN]
    jae .Lcf_ok
    mov eax, dword ptr [rbx + C_CHUNK_ST]
    cmp eax, CH_DATA
    jne .Lcf_syntax
    mov rdx, qword ptr [rbx + C_IN_LEN]
    sub rdx, r12
    cmp rdx, qword ptr [rbx + C_BODY_LEFT]
    jbe 1f
    mov rdx, qword ptr [rbx + C_BODY_LEFT]
1:  mov rdi, rbx
    call store_bytes
    test rax, rax
    js .Lcf_io_error
    cmp qword ptr [rbx + C_BODY_LEFT], 0
    jne .Lcf_next
    mov dword ptr [rbx + C_CHUNK_ST], CH_DATA_CR
    jmp .Lcf_next

.Lcf_syntax:                              # one byte of framing
    mov rcx, qword ptr [rbx + C_IN_BUF]
    movzx r13d, byte ptr [rcx + r12]
    inc r12
    mov qword ptr [rbx + C_IN_POS], r12
    cmp eax, CH_SIZE0
    je .Lcf_size0
    cmp eax, CH_SIZE
    je .Lcf_size
    cmp eax, CH_EXT
    je .Lcf_ext
    cmp eax, CH_SIZE_LF
    je .Lcf_size_lf
    cmp eax, CH_DATA_CR
    je .Lcf_data_cr
    cmp eax, CH_DATA_LF
    je .Lcf_data_lf
    cmp eax, CH_TRAIL0
    je .Lcf_trail0
    cmp eax, CH_TRAIL
    je .Lcf_trail
    cmp eax, CH_TRAIL_LF
    je .Lcf_trail_lf
    cmp eax, CH_END_LF
    je .Lcf_end_lf
    cmp eax, CH_TR_NAME
    je .Lcf_tr_name
    cmp eax, CH_EXT_NAME0
    jae .Lcf_ext_part
    jmp .Lcf_bad                          # CH_DONE is never fed

.Lcf_size0:
    mov edi, r13d
    call hex_val
    test eax, eax
    js .Lcf_bad
    mov qword ptr [rbx + C_BODY_LEFT], rax
    mov qword ptr [rbx + C_CHUNK_CNT], 1
    mov edx, CH_SIZE
    jmp .Lcf_set
.Lcf_size:
    inc qword ptr [rbx + C_CHUNK_CNT]     # bounds leading zeros too
    cmp qword ptr [rbx + C_CHUNK_CNT], CHUNK_LINE_MAX
    ja .Lcf_bad
    mov edi, r13d
    call hex_val
    test eax, eax
    js 2f
    mov rcx, qword ptr [rbx + C_BODY_LEFT]
    mov rdx, rcx
    shr rdx, 56                           # would the next digit overflow?
    jnz .Lcf_bad
    shl rcx, 4
    or rcx, rax
    mov qword ptr [rbx + C_BODY_LEFT], rcx
    jmp .Lcf_next
2:  jmp .Lcf_ext_end                      # after the size, as after a value
# Chunk extensions, byte by byte (the line's length is bounded as it goes):
# anything the grammar does not allow is a 400, so no two readers of this
# stream can disagree on where the chunk's data begins (RFC 9112 7.1.1).
.Lcf_ext_part:
    inc qword ptr [rbx + C_CHUNK_CNT]
    cmp qword ptr [rbx + C_CHUNK_CNT], CHUNK_LINE_MAX
    ja .Lcf_bad
    lea rcx, [rip + char_class]
    movzx ecx, byte ptr [rcx + r13]       # the byte's class
    cmp eax, CH_EXT_NAME0
    je .Lcf_ext_name0
    cmp eax, CH_EXT_NAME
    je .Lcf_ext_name
    cmp eax, CH_EXT_NAME_WS
    je .Lcf_ext_name_ws
    cmp eax, CH_EXT_VAL0
    je .Lcf_ext_val0
    cmp eax, CH_EXT_TOKEN
    je .Lcf_ext_token
    cmp eax, CH_EXT_QS
    je .Lcf_ext_qs
    cmp eax, CH_EXT_QP
    je .Lcf_ext_qp
    jmp .Lcf_ext_end                      # CH_EXT_END
.Lcf_ext:                                 # blanks before ";"
    inc qword ptr [rbx + C_CHUNK_CNT]
    cmp qword ptr [rbx + C_CHUNK_CNT], CHUNK_LINE_MAX
    ja .Lcf_bad
    cmp r13d, SPACE
    je .Lcf_next
    cmp r13d, HT
    je .Lcf_next
    mov edx, CH_EXT_NAME0
    cmp r13d, ';'
    je .Lcf_set
    jmp .Lcf_bad
.Lcf_ext_name0:                           # blanks, then the name's first byte
    cmp r13d, SPACE
    je .Lcf_next
    cmp r13d, HT
    je .Lcf_next
    mov edx, CH_EXT_NAME
    test ecx, CC_TCHAR
    jnz .Lcf_set
    jmp .Lcf_bad
.Lcf_ext_name:
    test ecx, CC_TCHAR
    jnz .Lcf_next
    mov edx, CH_EXT_NAME_WS
    cmp r13d, SPACE
    je .Lcf_set
    cmp r13d, HT
    je .Lcf_set
    mov edx, CH_EXT_VAL0
    cmp r13d, '='
    je .Lcf_set
    jmp .Lcf_ext_end                      # ";" or CR, else bad
.Lcf_ext_name_ws:                         # "name BWS" must go on with "=" or ";"
    cmp r13d, SPACE
    je .Lcf_next
    cmp r13d, HT
    je .Lcf_next
    mov edx, CH_EXT_VAL0
    cmp r13d, '='
    je .Lcf_set
    mov edx, CH_EXT_NAME0
    cmp r13d, ';'
    je .Lcf_set
    jmp .Lcf_bad
.Lcf_ext_val0:                            # blanks, then a token or a quoted string
    cmp r13d, SPACE
    je .Lcf_next
    cmp r13d, HT
    je .Lcf_next
    mov edx, CH_EXT_QS
    cmp r13d, '"'
    je .Lcf_set
    mov edx, CH_EXT_TOKEN
    test ecx, CC_TCHAR
    jnz .Lcf_set
    jmp .Lcf_bad
.Lcf_ext_token:
    test ecx, CC_TCHAR
    jnz .Lcf_next
    jmp .Lcf_ext_end
.Lcf_ext_qs:                              # qdtext: HT, SP, VCHAR but '"' '\', obs-text
    mov edx, CH_EXT_END
    cmp r13d, '"'
    je .Lcf_set
    mov edx, CH_EXT_QP
    cmp r13d, '\\'
    je .Lcf_set
    cmp r13d, HT
    je .Lcf_next
    test ecx, CC_BADVAL
    jnz .Lcf_bad
    jmp .Lcf_next
.Lcf_ext_qp:                              # quoted-pair: HT, SP, VCHAR, obs-text
    mov edx, CH_EXT_QS
    cmp r13d, HT
    je .Lcf_set
    test ecx, CC_BADVAL
    jnz .Lcf_bad
    jmp .Lcf_set
.Lcf_ext_end:                             # after a size, a name or a value
    mov edx, CH_SIZE_LF
    cmp r13d, CR
    je .Lcf_set
    mov edx, CH_EXT_NAME0
    cmp r13d, ';'
    je .Lcf_set
    mov edx, CH_EXT
    cmp r13d, SPACE
    je .Lcf_set
    cmp r13d, HT
    je .Lcf_set
    jmp .Lcf_bad
.Lcf_size_lf:
    cmp r13d, LF
    jne .Lcf_bad
    mov rax, qword ptr [rbx + C_BODY_LEFT]
    test rax, rax
    jz 3f
    add rax, qword ptr [rbx + C_BODY_TOTAL]   # both < 2^60: no overflow
    cmp rax, qword ptr [rip + cfg_max_body]
    ja .Lcf_too_large
    mov edx, CH_DATA
    jmp .Lcf_set
3:  mov qword ptr [rbx + C_CHUNK_CNT], 0  # last chunk: trailers follow
    mov edx, CH_TRAIL0
    jmp .Lcf_set
.Lcf_data_cr:
    cmp r13d, CR
    jne .Lcf_bad
    mov edx, CH_DATA_LF
    jmp .Lcf_set
.Lcf_data_lf:
    cmp r13d, LF
    jne .Lcf_bad
    mov edx, CH_SIZE0
    jmp .Lcf_set
.Lcf_trail0:                              # a trailer field's first byte, or the end
    mov edx, CH_END_LF
    cmp r13d, CR
    je .Lcf_set
    mov edx, CH_TR_NAME                   # a name: a token (no blank, no fold)
    lea rax, [rip + char_class]
    test byte ptr [rax + r13], CC_TCHAR
    jz .Lcf_bad
    jmp .Lcf_trail_byte
.Lcf_tr_name:
    mov edx, CH_TRAIL
    cmp r13d, ':'
    je .Lcf_trail_byte
    mov edx, CH_TR_NAME                   # a blank before ":" is a 400, as in a head
    lea rax, [rip + char_class]
    test byte ptr [rax + r13], CC_TCHAR
    jz .Lcf_bad
    jmp .Lcf_trail_byte
.Lcf_trail:                               # the field's value
    mov edx, CH_TRAIL_LF
    cmp r13d, CR
    je .Lcf_set
    mov edx, CH_TRAIL
.Lcf_trail_byte:
    inc qword ptr [rbx + C_CHUNK_CNT]
    cmp qword ptr [rbx + C_CHUNK_CNT], TRAILER_MAX
    ja .Lcf_trailers_large
    cmp r13d, HT
    je .Lcf_set
    lea rax, [rip + char_class]
    test byte ptr [rax + r13], CC_BADVAL
    jnz .Lcf_bad
    jmp .Lcf_set
.Lcf_trail_lf:
    cmp r13d, LF
    jne .Lcf_bad
    mov edx, CH_TRAIL0
    jmp .Lcf_set
.Lcf_end_lf:
    cmp r13d, LF
    jne .Lcf_bad
    mov dword ptr [rbx + C_CHUNK_ST], CH_DONE
    jmp .Lcf_ok                           # what follows is the next request

.Lcf_set:
    mov dword ptr [rbx + C_CHUNK_ST], edx
    jmp .Lcf_next
.Lcf_ok:
    xor eax, eax
    jmp .Lcf_out
.Lcf_bad:
    mov eax, R_400
    jmp .Lcf_out
.Lcf_too_large:
    mov eax, R_413
    jmp .Lcf_out
.Lcf_trailers_large:
    mov eax, R_431
    jmp .Lcf_out
.Lcf_io_error:
    mov rdi, rax
    call io_kind
.Lcf_out:
    pop r13
    pop r12
    pop rbx
    ret

.bss
.p2align 6
w_direct:   .space BODY_DIRECT           # a long body's bytes between read and pwrite
.text
