# response.s - response heads into C_OUT; the worker's write step sends them.
.text

# respond: rdi = conn, esi = R_* kind.
# Builds the status line, Server, Allow (405), Content-Length (with a short
# text body for errors), Connection, and the body, then sets the connection to
# send it and go on to ST_DONE. Keeps C_FLAGS' F_CLOSE decision.
# Clobbers the caller-saved registers.
.globl respond
respond:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12d, esi
    call stat_answer
    lea r13, [rip + resp_table]
    shl esi, 5                            # RESP_ENTRY = 32
    add r13, rsi
    lea rdi, [rbx + C_OUT]
    mov rsi, qword ptr [r13]
    mov rdx, qword ptr [r13 + 8]
    call copy
    mov rdi, rax
    call put_date
    mov rdi, rax
    lea rsi, [rip + hdr_server]
    mov edx, OFFSET hdr_server_len
    call copy
    mov rdi, rax
    cmp r12d, R_201                       # validators: of the value written, or
    je 7f                                 # the one that is there (304, 412)
    cmp r12d, R_204
    je 7f
    cmp r12d, R_412
    je 7f
    cmp r12d, R_304
    jne 8f
    mov rsi, rbx                          # 304: the tag only (RFC 9110 15.4.5),
    mov edx, CD_TAG                       # and the value's Cache-Control (C_CC)
    call put_validators
    mov rdi, rax
    mov edx, dword ptr [rbx + C_CC_LEN]
    test edx, edx
    jz 8f
    mov rsi, qword ptr [rbx + C_CC]
    call copy
    mov rdi, rax
    jmp 8f
7:  mov rsi, rbx
    mov edx, CD_TAG | CD_TIME
    call put_validators
    mov rdi, rax
8:  cmp r12d, R_405
    jne 5f
    lea rsi, [rip + hdr_allow]
    mov edx, OFFSET hdr_allow_len
    call copy
    mov rdi, rax
5:  cmp r12d, R_401
    jne 9f
    lea rsi, [rip + hdr_www_auth]         # RFC 6750 3: and why, if a token came
    mov edx, OFFSET hdr_www_auth_len
    call copy
    mov rdi, rax
    test dword ptr [rbx + C_COND], CD_AUTH
    jz 10f
    lea rsi, [rip + hdr_invalid_token]
    mov edx, OFFSET hdr_invalid_token_len
    call copy
    mov rdi, rax
10: mov word ptr [rdi], 0x0a0d
    add rdi, 2
9:  cmp r12d, R_503
    jne 6f
    lea rsi, [rip + hdr_retry]
    mov edx, OFFSET hdr_retry_len
    call copy
    mov rdi, rax
6:  cmp r12d, R_416                       # the value's size is in C_RANGE_B
    jne 1f
    lea rsi, [rip + hdr_range_none]
    mov edx, OFFSET hdr_range_none_len
    mov rcx, qword ptr [rbx + C_RANGE_B]
    call put_number_field
    mov rdi, rax
1:  cmp r12d, R_204                       # 204 and 304 have neither body nor length
    je 3f
    cmp r12d, R_304
    je 3f
    cmp qword ptr [r13 + 24], 0
    je 2f
    lea rsi, [rip + hdr_text]
    mov edx, OFFSET hdr_text_len
    call copy
    mov rdi, rax
2:  lea rsi, [rip + hdr_length]
    mov edx, OFFSET hdr_length_len
    mov rcx, qword ptr [r13 + 24]
    call put_number_field
    mov rdi, rax
3:  mov rsi, rbx
    call put_connection
    mov word ptr [rax], 0x0a0d
    lea rdi, [rax + 2]
    mov rax, rdi
    cmp dword ptr [rbx + C_METHOD], M_HEAD  # HEAD: the same head, no body
    je 4f
    mov rsi, qword ptr [r13 + 16]
    mov rdx, qword ptr [r13 + 24]
    call copy
4:  mov rdi, rbx
    mov rsi, rax
    mov edx, ST_DONE
    call start_output
    pop r13
    pop r12
    pop rbx
    ret

# respond_value: rdi = conn, rsi = bytes of the value to send, rdx = the first
# of them, rcx = the value's size, or RANGE_OPEN for the whole value.
# Builds the head of a 200 for the whole value, or of a 206 with its
# Content-Range for part of it; the caller decides whether the body follows
# (C_GET_FD, C_FILE_OFF, C_FILE_LEFT). A value with metadata (C_META) gets
# neither a Content-Type nor the head's end: its block, sent next, has both.
# Clobbers the caller-saved registers.
.globl respond_value
respond_value:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    mov r14, rcx
    mov esi, STAT_200
    cmp r14, RANGE_OPEN
    je 3f
    mov esi, R_206
3:  call stat_answer
    lea rdi, [rbx + C_OUT]
    lea rsi, [rip + line_200]
    mov edx, OFFSET line_200_len
    cmp r14, RANGE_OPEN
    je 1f
    lea rsi, [rip + line_206]
    mov edx, OFFSET line_206_len
1:  call copy
    mov rdi, rax
    call put_date
    mov rdi, rax
    mov rsi, rbx
    mov edx, CD_TAG | CD_TIME
    call put_validators
    mov rdi, rax
    lea rsi, [rip + head_200]             # ends with "Content-Length: "
    mov edx, OFFSET head_200_len
    cmp dword ptr [rbx + C_META], 0
    je 5f
    lea rsi, [rip + head_200_meta]
    mov edx, OFFSET head_200_meta_len
5:  mov rcx, r12
    call put_number_field
    mov rdi, rax
    cmp r14, RANGE_OPEN
    je 2f
    lea rsi, [rip + hdr_range]            # "bytes FIRST-LAST/SIZE"
    mov edx, OFFSET hdr_range_len
    call copy
    mov rdi, rax
    mov rsi, r13
    call fmt_u64
    mov byte ptr [rax], '-'
    lea rdi, [rax + 1]
    lea rsi, [r13 + r12 - 1]
    call fmt_u64
    mov byte ptr [rax], '/'
    lea rdi, [rax + 1]
    mov rsi, r14
    call fmt_u64
    mov word ptr [rax], 0x0a0d
    lea rdi, [rax + 2]
2:  mov rsi, rbx
    call put_connection
    mov rsi, rax
    cmp dword ptr [rbx + C_META], 0
    jne 6f
    mov word ptr [rax], 0x0a0d
    lea rsi, [rax + 2]
6:  mov rdi, rbx
    mov edx, ST_DONE
    call start_output
    add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# respond_generated: rdi = conn, esi = the state after the head, rdx = its
# Content-Type field (with CRLF), ecx = that field's length. Builds the head of
# a 200 whose body is made as it goes (a listing, the metrics; list.s): chunked,
# unless HTTP/1.0 (whose connection then ends the body).
# Clobbers the caller-saved registers.
.globl respond_generated
respond_generated:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov rbx, rdi
    mov r12d, esi
    mov r13, rdx
    mov r14d, ecx
    mov esi, STAT_200
    call stat_answer
    lea rdi, [rbx + C_OUT]
    lea rsi, [rip + line_200]
    mov edx, OFFSET line_200_len
    call copy
    mov rdi, rax
    call put_date
    mov rdi, rax
    lea rsi, [rip + hdr_server]
    mov edx, OFFSET hdr_server_len
    call copy
    mov rdi, rax
    mov rsi, r13
    mov edx, r14d
    call copy
    mov rdi, rax
    test dword ptr [rbx + C_FLAGS], F_HTTP10
    jnz 1f
    lea rsi, [rip + hdr_chunked]
    mov edx, OFFSET hdr_chunked_len
    call copy
    mov rdi, rax
1:  mov rsi, rbx
    call put_connection
    mov word ptr [rax], 0x0a0d
    lea rsi, [rax + 2]
    mov rdi, rbx
    mov edx, r12d
    call start_output
    add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# respond_continue: rdi = conn. Queues "100 Continue"; the body is read after it.
# Clobbers the caller-saved registers.
.globl respond_continue
respond_continue:
    push rbx
    mov rbx, rdi
    lea rdi, [rbx + C_OUT]
    lea rsi, [rip + head_100]
    mov edx, OFFSET head_100_len
    call copy
    mov rdi, rbx
    mov rsi, rax
    mov edx, ST_BODY
    call start_output
    pop rbx
    ret

# fail: rdi = conn, esi = R_* kind. Answers and then closes the connection,
# draining what the client still sends so that it can read the answer.
# Clobbers the caller-saved registers.
.globl fail
fail:
    or dword ptr [rdi + C_FLAGS], F_CLOSE
    jmp respond

# put_number_field: rdi = where to write, rsi = the field's text up to its
# value ("Name: "), rdx = that text's length, rcx = the value. Writes the text,
# the value in decimal and CRLF. Returns rax = end of what was written.
# Clobbers rcx, rdx, rsi, rdi, r8, r9.
put_number_field:
    mov r9, rcx                           # copy clobbers rcx
    call copy
    mov rdi, rax
    mov rsi, r9
    call fmt_u64
    mov word ptr [rax], 0x0a0d
    add rax, 2
    ret

# put_connection: rdi = where to write, rsi = conn.
# Writes a Connection field when the default for the version does not hold.
# Returns rax = end of what was written. Clobbers rcx, rdx, rsi, rdi.
put_connection:
    mov eax, dword ptr [rsi + C_FLAGS]
    test eax, F_CLOSE
    jnz 1f
    test eax, F_HTTP10
    jz 2f
    lea rsi, [rip + hdr_keep_alive]
    mov edx, OFFSET hdr_keep_alive_len
    jmp copy
1:  lea rsi, [rip + hdr_close]
    mov edx, OFFSET hdr_close_len
    jmp copy
2:  mov rax, rdi
    ret

# put_validators: rdi = where to write, rsi = conn, edx = which of CD_TAG
# (ETag) and CD_TIME (Last-Modified) to write, if the conn has them.
# Returns rax = end. Clobbers rcx, rdx, rsi, rdi, r8-r11.
put_validators:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rsi
    mov r12d, edx
    and r12d, dword ptr [rbx + C_COND]
    test r12d, CD_TAG
    jz 1f
    lea rsi, [rip + hdr_etag]
    mov edx, OFFSET hdr_etag_len
    call copy
    mov rdi, rax
    mov rsi, qword ptr [rbx + C_TAG_SEQ]
    call fmt_u64
    mov dword ptr [rax], 0x0a0d22         # closing quote, CRLF
    lea rdi, [rax + 3]
1:  test r12d, CD_TIME
    jz 2f
    lea rsi, [rip + hdr_last_modified]
    mov edx, OFFSET hdr_last_modified_len
    call copy
    mov qword ptr [rsp], rax
    mov rsi, qword ptr [rbx + C_TAG_TIME] # formatted once per time: a hot value's
    cmp rsi, qword ptr [rip + w_lm_time]  # answers share it (event loop only)
    je 3f
    mov qword ptr [rip + w_lm_time], rsi
    lea rdi, [rip + w_lm_text]
    call format_date
3:  mov rdi, qword ptr [rsp]
    lea rsi, [rip + w_lm_text]
    mov edx, DATE_LEN
    call copy
    mov rdi, rax
    mov word ptr [rdi], 0x0a0d
    add rdi, 2
2:  mov rax, rdi
    add rsp, 8
    pop r12
    pop rbx
    ret

# put_date: rdi = where to write. Writes the Date field of this second.
# Returns rax = end. Clobbers rcx, rdx, rsi, rdi.
put_date:
    lea rsi, [rip + hdr_date]
    mov edx, OFFSET hdr_date_len
    call copy
    mov rdi, rax
    lea rsi, [rip + w_date]
    mov edx, DATE_LEN
    call copy
    mov word ptr [rax], 0x0a0d
    add rax, 2
    ret

# start_output: rdi = conn, rsi = end of the head in C_OUT, edx = state after it.
# The client gets --io-timeout to take each part of the answer.
# Clobbers rax, rsi.
start_output:
    mov rax, qword ptr [rip + w_now]
    add rax, qword ptr [rip + cfg_io_timeout]
    add rax, DEADLINE_SLACK               # as set_deadline
    mov qword ptr [rdi + C_DEADLINE], rax
    lea rax, [rdi + C_OUT]
    sub rsi, rax
    mov qword ptr [rdi + C_OUT_LEN], rsi
    mov qword ptr [rdi + C_OUT_POS], 0
    mov dword ptr [rdi + C_NEXT], edx
    mov dword ptr [rdi + C_STATE], ST_WRITE
    ret

# status_digits: eax = an answer's kind (R_*, or STAT_200 for a 200). Returns
# rsi = its three status digits, from its status line. Clobbers rax, rcx.
.globl status_digits
status_digits:
    lea rsi, [rip + m_200]
    cmp eax, STAT_200
    je 1f
    shl eax, 5                            # RESP_ENTRY
    lea rcx, [rip + resp_table]
    mov rsi, qword ptr [rcx + rax]
    add rsi, 9                            # "HTTP/1.1 " then three digits
1:  ret

.section .rodata
.macro RESPONSE line, body
    .quad 1000f
    .quad 1001f - 1000f
    .quad 1001f
    .quad 1002f - 1001f
    .pushsection .rodata.resp_strings, "a"
1000: .ascii "\line"
    .ascii "\r\n"
1001: .ascii "\body"
1002:
    .popsection
.endm

.p2align 3
m_200: .ascii "200"                       # a 200's digits (its line is built elsewhere)
.p2align 3
resp_table:                               # indexed by R_*, RESP_ENTRY bytes each
    RESPONSE "HTTP/1.1 201 Created", ""
    RESPONSE "HTTP/1.1 204 No Content", ""
    RESPONSE "HTTP/1.1 400 Bad Request", "bad request\n"
    RESPONSE "HTTP/1.1 404 Not Found", "not found\n"
    RESPONSE "HTTP/1.1 405 Method Not Allowed", "method not allowed\n"
    RESPONSE "HTTP/1.1 413 Content Too Large", "value larger than --max-body\n"
    RESPONSE "HTTP/1.1 414 URI Too Long", "key too long\n"
    RESPONSE "HTTP/1.1 417 Expectation Failed", "only 100-continue is supported\n"
    RESPONSE "HTTP/1.1 431 Request Header Fields Too Large", "request head too large\n"
    RESPONSE "HTTP/1.1 500 Internal Server Error", "storage error\n"
    RESPONSE "HTTP/1.1 501 Not Implemented", "not implemented\n"
    RESPONSE "HTTP/1.1 505 HTTP Version Not Supported", "HTTP/1.1 or HTTP/1.0 only\n"
    RESPONSE "HTTP/1.1 507 Insufficient Storage", "no space left for the value\n"
    RESPONSE "HTTP/1.1 408 Request Timeout", "request not received in time\n"
    RESPONSE "HTTP/1.1 503 Service Unavailable", "server busy, try again\n"
    RESPONSE "HTTP/1.1 206 Partial Content", ""
    RESPONSE "HTTP/1.1 416 Range Not Satisfiable", "range not satisfiable\n"
    RESPONSE "HTTP/1.1 304 Not Modified", ""
    RESPONSE "HTTP/1.1 412 Precondition Failed", "precondition failed\n"
    RESPONSE "HTTP/1.1 400 Bad Request", "a key cannot end in /: a path ending in / lists keys\n"
    RESPONSE "HTTP/1.1 401 Unauthorized", "a valid access token is needed\n"
    RESPONSE "HTTP/1.1 500 Internal Server Error", "the newest record of this key is damaged on disk: write it again\n"
    RESPONSE "HTTP/1.1 505 HTTP Version Not Supported", "a backup is sent chunked: HTTP/1.1 only\n"
    RESPONSE "HTTP/1.1 400 Bad Request", "metadata beyond the limits: at most 90 X-Object-Meta-* fields, 4096 bytes of their names and values, names of 128 bytes; one Content-Type; 1024 bytes a representation field\n"
    RESPONSE "HTTP/1.1 400 Bad Request", "X-Delete-At takes one Unix time in seconds, X-Delete-After one number of seconds, in the future (one of them)\n"

hdr_server:     .ascii "Server: asmkv\r\n"
.equ hdr_server_len, . - hdr_server
hdr_allow:      .ascii "Allow: GET, HEAD, PUT, POST, DELETE\r\n"
.equ hdr_allow_len, . - hdr_allow
hdr_www_auth:   .ascii "WWW-Authenticate: Bearer realm=\"asmkv\""
.equ hdr_www_auth_len, . - hdr_www_auth
hdr_invalid_token: .ascii ", error=\"invalid_token\""
.equ hdr_invalid_token_len, . - hdr_invalid_token
hdr_retry:      .ascii "Retry-After: 1\r\n"
.equ hdr_retry_len, . - hdr_retry
hdr_text:       .ascii "Content-Type: text/plain\r\n"
.equ hdr_text_len, . - hdr_text
hdr_length:     .ascii "Content-Length: "
.equ hdr_length_len, . - hdr_length
hdr_close:      .ascii "Connection: close\r\n"
.equ hdr_close_len, . - hdr_close
hdr_keep_alive: .ascii "Connection: keep-alive\r\n"
.equ hdr_keep_alive_len, . - hdr_keep_alive
hdr_etag:       .ascii "ETag: \""
.equ hdr_etag_len, . - hdr_etag
hdr_last_modified: .ascii "Last-Modified: "
.equ hdr_last_modified_len, . - hdr_last_modified
hdr_date:       .ascii "Date: "
.equ hdr_date_len, . - hdr_date
line_200:       .ascii "HTTP/1.1 200 OK\r\n"
.equ line_200_len, . - line_200
line_206:       .ascii "HTTP/1.1 206 Partial Content\r\n"
.equ line_206_len, . - line_206
head_200:
    .ascii "Server: asmkv\r\n"
    .ascii "Accept-Ranges: bytes\r\n"
    .ascii "Content-Type: application/octet-stream\r\nContent-Length: "
.equ head_200_len, . - head_200
head_200_meta:                              # a value with metadata: its block has it
    .ascii "Server: asmkv\r\n"
    .ascii "Accept-Ranges: bytes\r\nContent-Length: "
.equ head_200_meta_len, . - head_200_meta
hdr_range:      .ascii "Content-Range: bytes "
.equ hdr_range_len, . - hdr_range
hdr_range_none: .ascii "Content-Range: bytes */"
.equ hdr_range_none_len, . - hdr_range_none
hdr_chunked:    .ascii "Transfer-Encoding: chunked\r\n"
.equ hdr_chunked_len, . - hdr_chunked
head_100:       .ascii "HTTP/1.1 100 Continue\r\n\r\n"
.equ head_100_len, . - head_100
.data
.p2align 3
w_lm_time: .quad -1                        # the time w_lm_text holds, formatted
w_lm_text: .space 32                       # a Last-Modified value, DATE_LEN bytes
.text
