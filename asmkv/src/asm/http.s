# http.s - request heads: finding their end, parsing them strictly, routing.
#
# A head is parsed only once it is complete (ends in an empty line) and within
# HEAD_MAX bytes, so the parser never waits and never reads past `end`. Lines
# must end in CRLF; a bare LF is rejected (400), consistently.
.text


# find_head_end: rdi = conn. Looks for the empty line that ends the head in
# the input buffer [in_pos .. in_len), resuming where the last call stopped (C_SCAN), so a
# head trickling in byte by byte costs linear time.
# Returns rax = head length including the final CRLF, 0 if not there yet,
# -1 on a bare LF. Clobbers rcx, rdx, rsi, r8.
.globl find_head_end
find_head_end:
    mov rsi, qword ptr [rdi + C_IN_POS]
    mov rdx, qword ptr [rdi + C_IN_LEN]
    sub rdx, rsi
    cmp rdx, HEAD_MAX
    jbe 1f
    mov edx, HEAD_MAX
1:  add rsi, qword ptr [rdi + C_IN_BUF]   # not read when nothing is held
    mov rcx, qword ptr [rdi + C_SCAN]
2:  cmp rcx, rdx
    jae 5f
    cmp byte ptr [rsi + rcx], LF
    je 3f
    inc rcx
    jmp 2b
3:  test rcx, rcx
    jz 4f
    cmp byte ptr [rsi + rcx - 1], CR
    jne 4f
    cmp rcx, 2
    jb 6f
    cmp byte ptr [rsi + rcx - 2], LF
    jne 6f
    lea rax, [rcx + 1]
    ret
6:  inc rcx
    jmp 2b
4:  mov rax, -1
    ret
5:  mov qword ptr [rdi + C_SCAN], rcx
    xor eax, eax
    ret

# parse_request: rdi = conn whose input buffer [in_pos ..] holds a complete head of
# C_HEAD_LEN bytes. Parses and validates it, consumes it, and starts the
# response or the body upload (every outcome leaves a next state set).
# Returns nothing. Clobbers the caller-saved registers.
.globl parse_request
parse_request:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                         # [rsp] = target length
    mov rbx, rdi
    call meta_reset                       # (this head's metadata, none yet)
    mov dword ptr [rbx + C_META], 0
    mov rax, qword ptr [rbx + C_IN_POS]
    mov r12, qword ptr [rbx + C_IN_BUF]
    add r12, rax
    mov r13, r12
    add r13, qword ptr [rbx + C_HEAD_LEN]
    add rax, qword ptr [rbx + C_HEAD_LEN]
    mov qword ptr [rbx + C_IN_POS], rax  # the head is consumed whatever comes of it
    cmp qword ptr [rip + w_lgtab], 0      # the access log keeps its request line
    je 1f
    mov rdx, r12
2:  cmp rdx, r13
    jae 3f
    cmp byte ptr [rdx], CR
    je 3f
    inc rdx
    jmp 2b
3:  sub rdx, r12
    mov rdi, rbx
    mov rsi, r12
    call alog_request
1:  lea r8, [rip + char_class]

    # method = token SPACE
    mov r14, r12
1:  movzx eax, byte ptr [r12]
    test byte ptr [r8 + rax], CC_TCHAR
    jz 2f
    inc r12
    jmp 1b
2:  cmp r12, r14
    je .Lpr_bad
    cmp al, SPACE
    jne .Lpr_bad
    mov rdi, r14
    mov rsi, r12
    sub rsi, r14
    call identify_method
    mov dword ptr [rbx + C_METHOD], eax
    inc r12

    # request-target = visible ASCII up to SPACE
    mov r15, r12
3:  movzx eax, byte ptr [r12]
    lea ecx, [rax - 0x21]
    cmp ecx, 0x7e - 0x21
    ja 4f
    inc r12
    jmp 3b
4:  cmp r12, r15
    je .Lpr_bad
    cmp al, SPACE
    jne .Lpr_bad
    mov rax, r12
    sub rax, r15
    mov qword ptr [rsp], rax
    inc r12

    # HTTP-version CRLF
    mov rax, r13
    sub rax, r12
    cmp rax, 10
    jb .Lpr_bad
    cmp dword ptr [r12], 0x50545448       # "HTTP"
    jne .Lpr_bad
    cmp byte ptr [r12 + 4], '/'
    jne .Lpr_bad
    cmp byte ptr [r12 + 6], '.'
    jne .Lpr_bad
    cmp word ptr [r12 + 8], 0x0a0d        # CR LF
    jne .Lpr_bad
    movzx eax, byte ptr [r12 + 5]
    movzx ecx, byte ptr [r12 + 7]
    lea edx, [rax - '0']
    cmp edx, 9
    ja .Lpr_bad
    lea edx, [rcx - '0']
    cmp edx, 9
    ja .Lpr_bad
    cmp al, '1'                           # HTTP/1.x, x > 1, is served as 1.1 (RFC 9110 2.5)
    jne .Lpr_version
    cmp cl, '0'
    jne 5f
    or dword ptr [rbx + C_FLAGS], F_HTTP10
5:  add r12, 10

    # header fields, up to the empty line
    xor r14d, r14d                        # fields seen
.Lpr_field:
    movzx eax, byte ptr [r12]
    cmp al, CR
    je .Lpr_fields_done
    cmp al, SPACE                            # obsolete line folding
    je .Lpr_bad
    cmp al, HT
    je .Lpr_bad
    inc r14d
    cmp r14d, MAX_HEADERS
    ja .Lpr_too_many
    mov rdi, r12                          # field name
6:  movzx eax, byte ptr [r12]
    test byte ptr [r8 + rax], CC_TCHAR
    jz 7f
    inc r12
    jmp 6b
7:  cmp r12, rdi
    je .Lpr_bad
    cmp al, ':'                           # also rejects space before the colon
    jne .Lpr_bad
    mov rsi, r12
    sub rsi, rdi
    inc r12
8:  movzx eax, byte ptr [r12]             # leading whitespace
    cmp al, SPACE
    je 9f
    cmp al, HT
    jne 10f
9:  inc r12
    jmp 8b
10: mov rdx, r12                          # field value
11: movzx eax, byte ptr [r12]
    cmp al, CR
    je 12f
    test byte ptr [r8 + rax], CC_BADVAL
    jnz .Lpr_bad
    inc r12
    jmp 11b
12: cmp byte ptr [r12 + 1], LF            # a lone CR inside a line
    jne .Lpr_bad
    mov rcx, r12
13: cmp rcx, rdx                          # trailing whitespace
    je 14f
    movzx eax, byte ptr [rcx - 1]
    cmp al, SPACE
    je 15f
    cmp al, HT
    jne 14f
15: dec rcx
    jmp 13b
14: sub rcx, rdx
    add r12, 2
    cmp dword ptr [rbx + C_METHOD], M_PUT # metadata a write keeps (meta.s; a
    je 16f                                # read or a delete ignores it, as Swift
    cmp dword ptr [rbx + C_METHOD], M_POST  # does)
    jne 17f
16: push rdi
    push rsi
    push rdx
    push rcx
    call meta_field                       # (name, nlen, value, vlen)
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    test eax, eax
    jnz .Lpr_fail
17:
    mov r8, rcx                           # handle_field(conn, name, nlen, value, vlen)
    mov rcx, rdx
    mov rdx, rsi
    mov rsi, rdi
    mov rdi, rbx
    call handle_field
    lea r8, [rip + char_class]
    test eax, eax
    jnz .Lpr_fail
    jmp .Lpr_field

.Lpr_fields_done:
    lea rax, [r12 + 2]                    # the empty line must be the head's end
    cmp rax, r13
    jne .Lpr_bad
    cmp byte ptr [r12 + 1], LF
    jne .Lpr_bad
    mov rdi, rbx
    mov rsi, r15
    mov rdx, qword ptr [rsp]
    call route_request
    jmp .Lpr_out

.Lpr_version:
    mov esi, R_505
    jmp .Lpr_fail_kind
.Lpr_too_many:
    mov esi, R_431
    jmp .Lpr_fail_kind
.Lpr_bad:
    mov esi, R_400
    jmp .Lpr_fail_kind
.Lpr_fail:
    mov esi, eax
.Lpr_fail_kind:
    mov rdi, rbx
    call fail
.Lpr_out:
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# identify_method: rdi = method token, rsi = its length.
# Returns eax = M_* (M_KNOWN for standard methods we do not allow, M_UNKNOWN
# otherwise). Methods are case-sensitive. Clobbers rcx, rdx.
identify_method:
    mov eax, M_UNKNOWN
    cmp rsi, 3
    je .Lim3
    cmp rsi, 4
    je .Lim4
    cmp rsi, 5
    je .Lim5
    cmp rsi, 6
    je .Lim6
    cmp rsi, 7
    je .Lim7
    ret
.Lim3:
    movzx ecx, word ptr [rdi]
    movzx edx, byte ptr [rdi + 2]
    shl edx, 16
    or ecx, edx
    cmp ecx, 0x544547                     # "GET"
    jne 1f
    mov eax, M_GET
    ret
1:  cmp ecx, 0x545550                     # "PUT"
    jne 2f
    mov eax, M_PUT
2:  ret
.Lim4:
    mov ecx, dword ptr [rdi]
    cmp ecx, 0x44414548                   # "HEAD"
    jne 1f
    mov eax, M_HEAD
    ret
1:  cmp ecx, 0x54534f50                   # "POST"
    jne 2f
    mov eax, M_POST
2:  ret
.Lim5:
    mov ecx, dword ptr [rdi]
    cmp ecx, 0x43544150                   # "PATC"
    jne 1f
    cmp byte ptr [rdi + 4], 'H'
    jne 1f
    mov eax, M_KNOWN
    ret
1:  cmp ecx, 0x43415254                   # "TRAC"
    jne 2f
    cmp byte ptr [rdi + 4], 'E'
    jne 2f
    mov eax, M_KNOWN
2:  ret
.Lim6:
    mov ecx, dword ptr [rdi]
    cmp ecx, 0x454c4544                   # "DELE"
    jne 1f
    cmp word ptr [rdi + 4], 0x4554        # "TE"
    jne 1f
    mov eax, M_DELETE
1:  ret
.Lim7:
    mov ecx, dword ptr [rdi]
    cmp ecx, 0x4954504f                   # "OPTI"
    jne 1f
    cmp dword ptr [rdi + 3], 0x534e4f49   # "IONS"
    jne 1f
    mov eax, M_KNOWN
    ret
1:  cmp ecx, 0x4e4e4f43                   # "CONN"
    jne 2f
    cmp dword ptr [rdi + 3], 0x5443454e   # "NECT"
    jne 2f
    mov eax, M_KNOWN
2:  ret

# handle_field: rdi = conn, rsi = field name, rdx = name length,
#               rcx = value (trimmed), r8 = value length.
# Records what the server acts on: Content-Length, Transfer-Encoding,
# Connection, Expect, Host, Range, and the preconditions (If-Match,
# If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range; cond.s).
# Other fields are ignored.
# Returns eax = 0, or an R_* kind to fail the request with.
# Clobbers the caller-saved registers.
handle_field:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, rcx
    mov r13, r8
    mov rdi, rsi
    cmp rdx, 14
    je .Lhf_content_length
    cmp rdx, 17
    je .Lhf_17
    cmp rdx, 10
    je .Lhf_connection
    cmp rdx, 6
    je .Lhf_expect
    cmp rdx, 4
    je .Lhf_host
    cmp rdx, 5
    je .Lhf_range
    cmp rdx, 8
    je .Lhf_if_range
    cmp rdx, 13
    je .Lhf_if_none_match
    cmp rdx, 19
    je .Lhf_if_unmodified_since
    cmp rdx, 7
    je .Lhf_referer
.Lhf_ok:
    xor eax, eax
.Lhf_out:
    pop r13
    pop r12
    pop rbx
    ret
.Lhf_bad:
    mov eax, R_400
    jmp .Lhf_out

.Lhf_content_length:
    lea rsi, [rip + name_content_length]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    mov rdi, r12
    mov rsi, r13
    call parse_u64                        # digits only: no sign, no list, no overflow
    test edx, edx
    jnz .Lhf_bad
    test dword ptr [rbx + C_FLAGS], F_HAS_CL
    jz 1f
    cmp rax, qword ptr [rbx + C_CL]       # repeats must agree
    jne .Lhf_bad
1:  mov qword ptr [rbx + C_CL], rax
    or dword ptr [rbx + C_FLAGS], F_HAS_CL
    jmp .Lhf_ok

.Lhf_17:
    lea rsi, [rip + name_if_modified_since]
    call ci_eq                            # (keeps rdi, rdx)
    test eax, eax
    jz .Lhf_transfer_encoding
    # RFC 9110 13.1.3: ignored unless it is one valid HTTP-date (a second
    # field makes a list of dates: ignored too)
    mov r8d, CD_IMS_SEEN
    mov r9d, CD_IMS
    mov r10d, C_IMS
# .Lhf_date: a date precondition: r8d = its "seen" bit, r9d = its bit,
# r10 = where its time goes in the conn. Only one valid date counts.
.Lhf_date:
    mov eax, dword ptr [rbx + C_COND]
    test eax, r8d
    jnz 1f
    or eax, r8d
    mov dword ptr [rbx + C_COND], eax
    push r9
    push r10
    mov rdi, r12
    mov rsi, r13
    call parse_http_date
    pop r10
    pop r9
    jc .Lhf_ok
    mov qword ptr [rbx + r10], rax
    or dword ptr [rbx + C_COND], r9d
    jmp .Lhf_ok
1:  not r9d                               # a second field: a list of dates, ignored
    and dword ptr [rbx + C_COND], r9d
    jmp .Lhf_ok

.Lhf_referer:
    mov esi, LG_REF
    lea r8, [rip + name_referer]
    jmp 1f
.Lhf_user_agent:
    mov esi, LG_UA
    lea r8, [rip + name_user_agent]
1:  cmp qword ptr [rip + w_lgtab], 0      # kept only for the access log
    je .Lhf_ok
    push rsi
    push rsi
    mov rsi, r8
    call ci_eq
    pop rsi
    pop rsi
    test eax, eax
    jz .Lhf_ok
    mov rdi, rbx
    mov rdx, r12
    mov rcx, r13
    call alog_field
    jmp .Lhf_ok

.Lhf_if_unmodified_since:
    lea rsi, [rip + name_if_unmodified_since]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    mov r8d, CD_IUS_SEEN                  # 13.1.4: as If-Modified-Since
    mov r9d, CD_IUS
    mov r10d, C_IUS
    jmp .Lhf_date

.Lhf_transfer_encoding:
    # The codings of every Transfer-Encoding field, in order, are one list
    # (RFC 9112 6.1; empty elements are ignored, RFC 9110 5.6.1): F_CHUNKED
    # says the last one is chunked, F_TE_BAD that one came before it.
    # parse_request: the last not chunked is 400 (6.3), more than one is 501.
    lea rsi, [rip + name_transfer_encoding]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    or dword ptr [rbx + C_FLAGS], F_HAS_TE
    add r13, r12                          # the value's end
1:  cmp r12, r13                          # an element: blanks first
    jae .Lhf_ok
    movzx eax, byte ptr [r12]
    cmp eax, SPACE
    je 2f
    cmp eax, HT
    je 2f
    cmp eax, ','
    jne 3f
2:  inc r12
    jmp 1b
3:  mov rdi, r12                          # its bytes, up to a comma or the end
4:  inc r12
    cmp r12, r13
    jae 5f
    cmp byte ptr [r12], ','
    jne 4b
5:  mov rdx, r12                          # less the blanks before the comma
6:  movzx eax, byte ptr [rdx - 1]
    cmp eax, SPACE
    je 7f
    cmp eax, HT
    jne 8f
7:  dec rdx
    jmp 6b
8:  mov eax, dword ptr [rbx + C_FLAGS]
    test eax, F_TE_ANY
    jz 9f
    or eax, F_TE_BAD                      # a coding before this one
9:  or eax, F_TE_ANY
    and eax, ~F_CHUNKED
    mov dword ptr [rbx + C_FLAGS], eax
    sub rdx, rdi
    cmp rdx, 7
    jne 1b
    lea rsi, [rip + word_chunked]
    call ci_eq
    test eax, eax
    jz 1b
    or dword ptr [rbx + C_FLAGS], F_CHUNKED
    jmp 1b

.Lhf_connection:
    lea rsi, [rip + name_connection]
    call ci_eq                            # (keeps rdi, rdx)
    test eax, eax
    jz .Lhf_user_agent
    # comma-separated options; only "close" and "keep-alive" matter
    add r13, r12                          # r13 = end of value
3:  cmp r12, r13
    jae .Lhf_ok
    movzx eax, byte ptr [r12]
    cmp al, ','
    je 4f
    cmp al, SPACE
    je 4f
    cmp al, HT
    jne 5f
4:  inc r12
    jmp 3b
5:  mov rdi, r12                          # an option runs to the next comma or blank
6:  cmp r12, r13
    jae 7f
    movzx eax, byte ptr [r12]
    cmp al, ','
    je 7f
    cmp al, SPACE
    je 7f
    cmp al, HT
    je 7f
    inc r12
    jmp 6b
7:  mov rdx, r12
    sub rdx, rdi
    cmp rdx, 5
    jne 8f
    lea rsi, [rip + word_close]
    call ci_eq
    test eax, eax
    jz 3b
    or dword ptr [rbx + C_FLAGS], F_CONN_CLOSE
    jmp 3b
8:  cmp rdx, 10
    jne 3b
    lea rsi, [rip + word_keep_alive]
    call ci_eq
    test eax, eax
    jz 3b
    or dword ptr [rbx + C_FLAGS], F_KEEP
    jmp 3b

.Lhf_expect:
    lea rsi, [rip + name_expect]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    cmp r13, 12
    jne 9f
    mov rdi, r12
    lea rsi, [rip + word_100_continue]
    mov edx, 12
    call ci_eq
    test eax, eax
    jz 9f
    or dword ptr [rbx + C_FLAGS], F_EXPECT
    jmp .Lhf_ok
9:  or dword ptr [rbx + C_FLAGS], F_EXPECT_BAD
    jmp .Lhf_ok

.Lhf_host:
    lea rsi, [rip + name_host]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    inc dword ptr [rbx + C_HOSTS]
    mov rdi, r12
    mov rsi, r13
    call host_valid
    test eax, eax
    jnz .Lhf_ok
    or dword ptr [rbx + C_FLAGS], F_HOST_BAD
    jmp .Lhf_ok

.Lhf_if_none_match:
    lea rsi, [rip + name_if_none_match]
    call ci_eq                            # (keeps rdi, rdx)
    test eax, eax
    jz .Lhf_authorization
    cmp r13, 1
    jne 1f
    cmp byte ptr [r12], '*'
    jne 1f
    or dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jmp .Lhf_ok
1:  or dword ptr [rbx + C_COND], CD_INM
    lea rdx, [rbx + C_INM]
    lea rcx, [rbx + C_INM_N]
    mov r8d, 1                            # weak comparison (RFC 9110 13.1.2)
    mov r9d, CD_INM_MORE
    jmp .Lhf_tags

.Lhf_authorization:
    lea rsi, [rip + name_authorization]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    test dword ptr [rbx + C_COND], CD_AUTH_SEEN
    jnz 2f                                # a second one, of any scheme: 401 (README)
    or dword ptr [rbx + C_COND], CD_AUTH_SEEN
    cmp r13, 7                            # "Bearer" 1*SP token (RFC 6750 2.1)
    jb .Lhf_ok
    mov rdi, r12
    lea rsi, [rip + word_bearer]
    mov edx, 6
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    lea rcx, [r12 + 6]
    lea rdx, [r12 + r13]
    cmp byte ptr [rcx], SPACE
    jne .Lhf_ok
1:  cmp byte ptr [rcx], SPACE
    jne 3f
    inc rcx
    cmp rcx, rdx
    jb 1b
3:  mov qword ptr [rbx + C_AUTH], rcx
    sub rdx, rcx
    mov qword ptr [rbx + C_AUTH_LEN], rdx
    or dword ptr [rbx + C_COND], CD_AUTH
    jmp .Lhf_ok
2:  mov qword ptr [rbx + C_AUTH], r12    # an empty token: no token of a set matches it
    mov qword ptr [rbx + C_AUTH_LEN], 0
    or dword ptr [rbx + C_COND], CD_AUTH
    jmp .Lhf_ok

.Lhf_if_match:
    or dword ptr [rbx + C_COND], CD_IM
    cmp r13, 1
    jne 1f
    cmp byte ptr [r12], '*'
    jne 1f
    or dword ptr [rbx + C_COND], CD_IM_STAR
    jmp .Lhf_ok
1:  lea rdx, [rbx + C_IM]
    lea rcx, [rbx + C_IM_N]
    xor r8d, r8d                          # strong comparison (RFC 9110 13.1.1)
    mov r9d, CD_IM_MORE
.Lhf_tags:
    push r9
    push r9
    mov rdi, r12
    mov rsi, r13
    call parse_tags
    pop r9
    pop r9
    test eax, eax
    jz .Lhf_ok
    js 2f
    or dword ptr [rbx + C_COND], r9d
    jmp .Lhf_ok
2:  or dword ptr [rbx + C_COND], CD_BAD
    jmp .Lhf_ok

.Lhf_if_range:
    lea rsi, [rip + name_if_range]
    call ci_eq                            # (keeps rdi, rdx)
    test eax, eax
    jnz 3f
    lea rsi, [rip + name_if_match]
    call ci_eq
    test eax, eax
    jnz .Lhf_if_match
    jmp .Lhf_ok
    # RFC 9110 13.1.5: the range is honoured only if a strong tag matches; a
    # date never does here (a Last-Modified in seconds is a weak validator)
3:  test dword ptr [rbx + C_COND], CD_IF_RANGE
    jnz 4f                                # a second If-Range
    test dword ptr [rbx + C_FLAGS], F_RANGE_IGNORE
    jnz .Lhf_ok
    mov rdi, r12
    mov rsi, r13
    call our_tag
    jc 4f
    mov qword ptr [rbx + C_IF_RANGE], rax
    or dword ptr [rbx + C_COND], CD_IF_RANGE
    jmp .Lhf_ok
4:  and dword ptr [rbx + C_COND], ~CD_IF_RANGE
    or dword ptr [rbx + C_FLAGS], F_RANGE_IGNORE
    jmp .Lhf_ok

.Lhf_range:
    lea rsi, [rip + name_range]
    call ci_eq
    test eax, eax
    jz .Lhf_ok
    mov rdi, rbx
    mov rsi, r12
    mov rdx, r13
    call parse_range
    jmp .Lhf_ok

# parse_range: rdi = conn, rsi = a Range field's value, rdx = its length.
# Serves one range of bytes (RFC 9110 14.1.2): "bytes=FIRST-LAST",
# "bytes=FIRST-" or "bytes=-SUFFIX". Anything else - another unit, several
# ranges, LAST < FIRST, a second Range field - only sets F_RANGE_IGNORE:
# the whole value is sent, as RFC 9110 14.2 allows.
# Clobbers rax, rcx, rdx, rsi, rdi, r8-r11.
parse_range:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    test dword ptr [rbx + C_FLAGS], F_RANGE | F_RANGE_IGNORE
    jnz .Lrg_ignore                       # a second Range field
    cmp rdx, 7
    jb .Lrg_ignore
    mov r12, rsi
    lea r13, [rsi + rdx]                  # end of the value
    mov rdi, rsi
    lea rsi, [rip + word_bytes_eq]
    mov edx, 6
    call ci_eq
    test eax, eax
    jz .Lrg_ignore
    add r12, 6
    cmp byte ptr [r12], '-'
    je .Lrg_suffix
    call .Lrg_number                      # FIRST
    jc .Lrg_ignore
    mov qword ptr [rbx + C_RANGE_A], rax
    cmp r12, r13
    jae .Lrg_ignore
    cmp byte ptr [r12], '-'
    jne .Lrg_ignore
    inc r12
    mov qword ptr [rbx + C_RANGE_B], RANGE_OPEN
    cmp r12, r13
    je .Lrg_set                           # "FIRST-"
    call .Lrg_number                      # LAST
    jc .Lrg_ignore
    cmp r12, r13
    jne .Lrg_ignore
    cmp rax, qword ptr [rbx + C_RANGE_A]
    jb .Lrg_ignore
    mov qword ptr [rbx + C_RANGE_B], rax
    jmp .Lrg_set
.Lrg_suffix:
    inc r12
    call .Lrg_number
    jc .Lrg_ignore
    cmp r12, r13
    jne .Lrg_ignore
    mov qword ptr [rbx + C_RANGE_A], rax
    or dword ptr [rbx + C_FLAGS], F_RANGE_SUFFIX
.Lrg_set:
    or dword ptr [rbx + C_FLAGS], F_RANGE
    jmp .Lrg_out
.Lrg_ignore:
    or dword ptr [rbx + C_FLAGS], F_RANGE_IGNORE
.Lrg_out:
    pop r13
    pop r12
    pop rbx
    ret
# .Lrg_number: the decimal digits at r12 (before r13), r12 moved past them.
# Returns rax, carry clear; carry set if there are none or too many (>= 2^60).
.Lrg_number:
    xor eax, eax
    mov rcx, r12
1:  cmp r12, r13
    jae 2f
    movzx edx, byte ptr [r12]
    sub edx, '0'
    cmp edx, 9
    ja 2f
    mov r8, rax
    shr r8, 56                            # would another digit overflow 2^60?
    jnz 3f
    imul rax, rax, 10
    add rax, rdx
    inc r12
    jmp 1b
2:  cmp r12, rcx                          # no digit: carry set
    je 3f
    clc
    ret
3:  stc
    ret

# our_tag: rdi = a field value, rsi = its length. Returns rax = the sequence
# number if the value is exactly one strong entity-tag of ours ("DIGITS",
# canonical decimal, not 0), carry clear; carry set otherwise.
# Clobbers rcx, rdx, rsi, rdi, r8.
our_tag:
    cmp rsi, 3
    jb 1f
    cmp byte ptr [rdi], '"'
    jne 1f
    cmp byte ptr [rdi + rsi - 1], '"'
    jne 1f
    inc rdi
    sub rsi, 2
# tag_value: rdi = a tag's opaque part, rsi = its length. As our_tag.
tag_value:
    cmp rsi, 20
    ja 1f
    test rsi, rsi
    jz 1f
    cmp byte ptr [rdi], '0'               # canonical: no leading zero (nor "0")
    je 1f
    call parse_u64
    test edx, edx
    jnz 1f
    clc
    ret
1:  stc
    ret

# parse_tags: rdi = a field value, rsi = its length, rdx = where the sequence
# numbers of tags of ours go (TAGS_MAX u64), rcx = their count (u32, added
# to), r8d = 1 if weak tags count (weak comparison), 0 if they never match.
# Parses a list of entity-tags (RFC 9110 8.8.3): `"opaque"` or `W/"opaque"`,
# separated by commas and blanks; empty elements are allowed (5.6.1). Tags
# that are not ours are valid and never match.
# Returns eax = 0, 1 if there were more than TAGS_MAX of ours (the first are
# kept), or -1 if the list is malformed. Clobbers the caller-saved registers.
parse_tags:
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rbp
    sub rsp, 8
    mov rbx, rdi
    lea r12, [rdi + rsi]                  # end
    mov r13, rdx
    mov r14, rcx
    mov r15d, r8d
    xor ebp, ebp                          # the answer
.Lpt_next:
    cmp rbx, r12
    jae .Lpt_out
    movzx eax, byte ptr [rbx]
    cmp al, ','
    je 1f
    cmp al, SPACE
    je 1f
    cmp al, HT
    jne 2f
1:  inc rbx
    jmp .Lpt_next
2:  xor r10d, r10d                        # weak?
    cmp al, 'W'
    jne 3f
    lea rcx, [rbx + 2]
    cmp rcx, r12
    jae .Lpt_bad
    cmp byte ptr [rbx + 1], '/'
    jne .Lpt_bad
    add rbx, 2
    mov r10d, 1
    movzx eax, byte ptr [rbx]
3:  cmp al, '"'
    jne .Lpt_bad
    inc rbx
    mov rdi, rbx                          # the opaque part
4:  cmp rbx, r12
    jae .Lpt_bad
    movzx eax, byte ptr [rbx]
    cmp al, '"'
    je 5f
    cmp al, 0x21                          # etagc: %x21 / %x23-7E / obs-text
    jb .Lpt_bad
    cmp al, 0x7f
    je .Lpt_bad
    inc rbx
    jmp 4b
5:  mov rsi, rbx
    sub rsi, rdi
    inc rbx
    mov rcx, rbx                          # then blanks, and a comma or the end
6:  cmp rcx, r12
    jae 8f
    movzx eax, byte ptr [rcx]
    cmp al, ','
    je 8f
    cmp al, SPACE
    je 7f
    cmp al, HT
    jne .Lpt_bad
7:  inc rcx
    jmp 6b
8:  mov rbx, rcx
    test r10d, r10d
    jz 9f
    test r15d, r15d
    jz .Lpt_next                          # weak, compared strongly: never matches
9:  call tag_value
    jc .Lpt_next
    mov ecx, dword ptr [r14]
    cmp ecx, TAGS_MAX
    jae 10f
    mov qword ptr [r13 + rcx*8], rax
    inc dword ptr [r14]
    jmp .Lpt_next
10: mov ebp, 1
    jmp .Lpt_next
.Lpt_bad:
    mov ebp, -1
.Lpt_out:
    mov eax, ebp
    add rsp, 8
    pop rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# route_request: rdi = conn (fields parsed), rsi = request-target, rdx = its length.
# Applies the framing and connection rules, maps the target to a key, and
# hands the request to its method. Clobbers the caller-saved registers.
route_request:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    mov eax, dword ptr [rbx + C_FLAGS]
    # framing first: a request whose body length is unclear cannot be answered
    # and the connection kept (request smuggling)
    mov ecx, eax
    and ecx, F_HAS_TE | F_HAS_CL
    cmp ecx, F_HAS_TE | F_HAS_CL
    je .Lrr_bad_close
    test eax, F_HAS_TE
    jz 1f
    test eax, F_HTTP10                    # HTTP/1.0 has no chunked coding
    jnz .Lrr_bad_close
    test eax, F_CHUNKED                   # not chunked at the end: no length
    jz .Lrr_bad_close                     # can be known (RFC 9112 6.3)
    test eax, F_TE_BAD
    jz 1f
    mov esi, R_501                        # another coding (or chunked twice)
    jmp .Lrr_fail
1:  # persistence: HTTP/1.1 keeps unless told to close; 1.0 closes unless asked
    test eax, F_HTTP10
    jz 2f
    test eax, F_KEEP
    jnz 3f
    or eax, F_CLOSE
    jmp 3f
2:  test eax, F_CONN_CLOSE
    jz 3f
    or eax, F_CLOSE
3:  cmp dword ptr [rip + w_stopping], 0
    je 4f
    or eax, F_CLOSE
4:  mov dword ptr [rbx + C_FLAGS], eax
    test eax, F_HTTP10
    jnz 5f
    cmp dword ptr [rbx + C_HOSTS], 1      # HTTP/1.1 needs exactly one Host
    jne .Lrr_reject_400
5:  test eax, F_HOST_BAD                  # and a valid one (RFC 9112 3.2)
    jnz .Lrr_reject_400
    mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_UNKNOWN
    jne 6f
    mov esi, R_501
    jmp .Lrr_reject
6:  cmp ecx, M_KNOWN
    jne 7f
    mov esi, R_405
    jmp .Lrr_reject
7:  test eax, F_EXPECT_BAD
    jz 8f
    mov esi, R_417
    jmp .Lrr_reject
8:  test dword ptr [rbx + C_RX], RX_METRICS  # the metrics socket serves /metrics only
    jz 23f
    mov rdi, rbx
    mov rsi, r12
    mov rdx, r13
    call decode_key
    test eax, eax                         # no key (malformed, or "/"): none is
    jz 24f                                # metrics, whatever a last request left
    mov qword ptr [rbx + C_NAME_LEN], 0
24: mov rdi, rbx
    call metrics_route
    jmp .Lrr_out
23: mov rdi, rbx                          # access tokens, before anything else
    call check_auth
    test eax, eax
    jz 22f
    mov esi, eax
    jmp .Lrr_reject
22: xor edi, edi                          # a path ending in "/" lists keys: it is
17: cmp rdi, r13                          # never a key (a write to one is a 400)
    jae 18f
    cmp byte ptr [r12 + rdi], '?'
    je 18f
    inc rdi
    jmp 17b
18: test rdi, rdi
    jz 19f
    cmp byte ptr [r12 + rdi - 1], '/'
    jne 19f
    mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_GET
    je 20f
    cmp ecx, M_HEAD
    je 20f
    mov esi, R_400_SLASH
    jmp .Lrr_reject
20: mov rdi, rbx                          # the prefix, encoded as keys are ("" for "/")
    mov rsi, r12
    mov rdx, r13
    call decode_key
    cmp eax, -1
    je 21f
    test eax, eax
    jnz .Lrr_key_bad
21: mov rdi, rbx
    mov rsi, r12
    mov rdx, r13
    call list_prepare
    test eax, eax
    jz 15f
    mov esi, eax
    jmp .Lrr_reject
19: mov rdi, rbx
    mov rsi, r12
    mov rdx, r13
    call decode_key
    test eax, eax
    jz 9f
.Lrr_key_bad:
    mov esi, eax
    cmp eax, -1                           # an empty key
    jne .Lrr_reject
    mov esi, R_400
    jmp .Lrr_reject
9:  test dword ptr [rbx + C_COND], CD_BAD   # a malformed entity-tag list
    jnz .Lrr_reject_400
    mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_GET                        # a write's preconditions are decided
    je 15f                                # before its body is read (a client
    cmp ecx, M_HEAD                       # waiting for 100 Continue sends none);
    je 15f                                # the claim at its end decides again
    test dword ptr [rbx + C_COND], CD_IM | CD_INM | CD_IUS
    jnz 16f
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jz 15f
16: mov rdi, rbx
    call write_conds
    test eax, eax
    jz 15f
    mov esi, eax
    jmp .Lrr_reject
15: mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_PUT
    je .Lrr_upload
    cmp ecx, M_POST
    je .Lrr_upload
    # GET, HEAD and DELETE take no body. A small one with a known length is
    # read and dropped before the answer, so the connection stays usable;
    # otherwise (large, chunked, or the client waits for 100 Continue) the
    # answer comes at once and the connection closes.
    call has_body_rbx
    test eax, eax
    jz 10f
    test dword ptr [rbx + C_FLAGS], F_EXPECT | F_CHUNKED
    jnz 13f
    cmp qword ptr [rbx + C_CL], DISCARD_MAX
    ja 13f
    mov rdi, rbx
    call start_discard
    jmp .Lrr_out
13: or dword ptr [rbx + C_FLAGS], F_CLOSE
10: mov rdi, rbx
    mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_DELETE
    je 11f
    call do_get
    jmp .Lrr_out
11: call do_delete
    jmp .Lrr_out
.Lrr_upload:
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jnz 12f
    mov rax, qword ptr [rbx + C_CL]
    cmp rax, qword ptr [rip + cfg_max_body]
    jbe 12f
    mov esi, R_413
    jmp .Lrr_fail
12: mov rdi, rbx
    call start_upload
    jmp .Lrr_out

.Lrr_reject_400:
    mov esi, R_400
# .Lrr_reject: esi = kind. The framing is known: keep the connection unless
# there is a body we are not going to read.
.Lrr_reject:
    call has_body_rbx
    test eax, eax
    jnz .Lrr_fail
    mov rdi, rbx
    call respond
    jmp .Lrr_out
.Lrr_bad_close:
    mov esi, R_400
.Lrr_fail:
    mov rdi, rbx
    call fail
.Lrr_out:
    pop r13
    pop r12
    pop rbx
    ret

# has_body_rbx: rbx = conn (an internal helper of route_request).
# Returns eax = 1 if the request announced a body. Clobbers nothing else.
has_body_rbx:
    mov eax, 1
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jnz 1f
    cmp qword ptr [rbx + C_CL], 0
    jne 1f
    xor eax, eax
1:  ret

# decode_key: rdi = conn, rsi = request-target, rdx = its length.
# The key is the path without its leading "/", percent-decoded, up to "?".
# It is stored in C_NAME (NUL-terminated, length C_NAME_LEN) encoded as a safe
# file name: letters, digits, "-", "_", "~" and "." (but not first) stand for
# themselves; every other byte is "%XX" (uppercase hex). So no key can be "."
# or "..", contain "/", or start like a temporary file (".tmp-"), and the
# mapping is reversible. An absolute-form target ("http://host/path") uses its path.
# Returns eax = 0, -1 for an empty key (C_NAME_LEN = 0: the prefix of "/"),
# R_400 (bad escape, %00) or R_414 (too long).
# Clobbers rcx, rdx, rsi, rdi, r8-r11.
.globl decode_key
decode_key:
    lea r9, [rsi + rdx]                   # end of target
    cmp byte ptr [rsi], '/'
    je 2f
    cmp rdx, 7
    jbe .Ldk_bad
    push rdi
    push rsi
    mov rdi, rsi
    lea rsi, [rip + word_http_scheme]
    mov edx, 7
    call ci_eq
    pop rsi
    pop rdi
    test eax, eax
    jz .Ldk_bad
    add rsi, 7
1:  cmp rsi, r9                           # skip the authority
    jae .Ldk_bad
    cmp byte ptr [rsi], '/'
    je 2f
    inc rsi
    jmp 1b
2:  inc rsi
    lea r10, [rdi + C_NAME]
    xor r11d, r11d                        # encoded length
    lea r8, [rip + char_class]
3:  cmp rsi, r9
    jae .Ldk_end
    movzx eax, byte ptr [rsi]
    cmp al, '?'
    je .Ldk_end
    inc rsi
    cmp al, '%'
    jne 4f
    lea rcx, [rsi + 2]
    cmp rcx, r9
    ja .Ldk_bad
    push rdi
    movzx edi, byte ptr [rsi]
    call hex_val
    mov ecx, eax
    movzx edi, byte ptr [rsi + 1]
    call hex_val
    pop rdi
    test ecx, ecx
    js .Ldk_bad
    test eax, eax
    js .Ldk_bad
    shl ecx, 4
    or eax, ecx
    jz .Ldk_bad                           # %00: no NUL in keys
    add rsi, 2
4:  test byte ptr [r8 + rax], CC_KEY
    jz 5f
    cmp al, '.'
    jne 6f
    test r11, r11
    jz 5f
6:  cmp r11, NAME_MAX
    jae .Ldk_long
    mov byte ptr [r10 + r11], al
    inc r11
    jmp 3b
5:  cmp r11, NAME_MAX - 3
    ja .Ldk_long
    mov byte ptr [r10 + r11], '%'
    mov ecx, eax
    shr ecx, 4
    lea rdx, [rip + hex_upper]
    movzx ecx, byte ptr [rdx + rcx]
    mov byte ptr [r10 + r11 + 1], cl
    and eax, 15
    movzx ecx, byte ptr [rdx + rax]
    mov byte ptr [r10 + r11 + 2], cl
    add r11, 3
    jmp 3b
.Ldk_end:
    mov byte ptr [r10 + r11], 0
    mov qword ptr [rdi + C_NAME_LEN], r11
    test r11, r11
    jz .Ldk_empty
    mov byte ptr [r10 + r11], 0
    mov qword ptr [rdi + C_NAME_LEN], r11
    xor eax, eax
    ret
.Ldk_bad:
    mov eax, R_400
    ret
.Ldk_empty:
    mov eax, -1
    ret
.Ldk_long:
    mov eax, R_414
    ret

# host_valid: rdi = a Host field's value (trimmed), rsi = its length.
# Returns eax = 1 if it is uri-host [":" port] (RFC 9112 3.2, RFC 3986 3.2.2):
# an IP-literal "[...]" of hex digits, ":" and ".", or a reg-name of
# unreserved, sub-delims and %HH; then ":" and digits, or nothing. Empty is
# valid (an empty reg-name). Clobbers rcx, rdx, rsi, r8.
host_valid:
    lea rsi, [rdi + rsi]                  # the end
    lea r8, [rip + host_class]
    cmp rdi, rsi
    jae .Lhv_yes
    cmp byte ptr [rdi], '['
    jne 2f
    inc rdi                               # an IP-literal: at least one byte, then "]"
    mov rdx, rdi
1:  cmp rdi, rsi
    jae .Lhv_no
    movzx ecx, byte ptr [rdi]
    cmp ecx, ']'
    je 5f
    test byte ptr [r8 + rcx], HC_IP
    jz .Lhv_no
    inc rdi
    jmp 1b
5:  cmp rdi, rdx
    je .Lhv_no
    inc rdi
    jmp .Lhv_port
2:  cmp rdi, rsi                          # a reg-name
    jae .Lhv_yes
    movzx ecx, byte ptr [rdi]
    cmp ecx, ':'
    je .Lhv_port
    cmp ecx, '%'
    je 3f
    test byte ptr [r8 + rcx], HC_REG
    jz .Lhv_no
    inc rdi
    jmp 2b
3:  lea rdx, [rdi + 3]                    # %HH
    cmp rdx, rsi
    ja .Lhv_no
    movzx ecx, byte ptr [rdi + 1]
    test byte ptr [r8 + rcx], HC_HEX
    jz .Lhv_no
    movzx ecx, byte ptr [rdi + 2]
    test byte ptr [r8 + rcx], HC_HEX
    jz .Lhv_no
    mov rdi, rdx
    jmp 2b
.Lhv_port:                                # nothing, or ":" and digits
    cmp rdi, rsi
    jae .Lhv_yes
    cmp byte ptr [rdi], ':'
    jne .Lhv_no
4:  inc rdi
    cmp rdi, rsi
    jae .Lhv_yes
    movzx ecx, byte ptr [rdi]
    sub ecx, '0'
    cmp ecx, 9
    jbe 4b
.Lhv_no:
    xor eax, eax
    ret
.Lhv_yes:
    mov eax, 1
    ret

.section .rodata
name_content_length:    .ascii "content-length"
name_transfer_encoding: .ascii "transfer-encoding"
name_connection:        .ascii "connection"
name_expect:            .ascii "expect"
name_host:              .ascii "host"
name_range:             .ascii "range"
name_if_range:          .ascii "if-range"
name_if_none_match:     .ascii "if-none-match"
name_if_match:          .ascii "if-match"
name_authorization:     .ascii "authorization"
name_referer:           .ascii "referer"
name_user_agent:        .ascii "user-agent"
word_bearer:            .ascii "bearer"
name_if_modified_since: .ascii "if-modified-since"
name_if_unmodified_since: .ascii "if-unmodified-since"
word_bytes_eq:          .ascii "bytes="
word_chunked:           .ascii "chunked"
word_close:             .ascii "close"
word_keep_alive:        .ascii "keep-alive"
word_100_continue:      .ascii "100-continue"
word_http_scheme:       .ascii "http://"
.globl hex_upper
hex_upper:              .ascii "0123456789ABCDEF"
# host_class: HC_REG (a reg-name's unreserved and sub-delims), HC_IP (inside an
# IP-literal's brackets), HC_HEX, for each byte value (host_valid)
host_class:
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0x00
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0x10
    .byte 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0   # 0x20
    .byte 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 1, 0, 1, 0, 0   # 0x30
    .byte 0, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1   # 0x40
    .byte 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1   # 0x50
    .byte 0, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1   # 0x60
    .byte 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0   # 0x70
    .fill 128, 1, 0                      # 0x80-0xff: none
# char_class: bit CC_TCHAR, CC_KEY, CC_BADVAL for each byte value
char_class:
    .byte 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 4, 4, 4, 4, 4, 4   # 0x00
    .byte 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4   # 0x10
    .byte 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 3, 3, 0   # 0x20
    .byte 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0   # 0x30
    .byte 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3   # 0x40
    .byte 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 1, 3   # 0x50
    .byte 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3   # 0x60
    .byte 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 1, 0, 3, 4   # 0x70
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0x80
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0x90
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xa0
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xb0
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xc0
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xd0
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xe0
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   # 0xf0
.text
