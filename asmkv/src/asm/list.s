# list.s - listings of keys: a GET or HEAD whose path ends in "/".
#
# The keys under the path (the prefix) are listed one level deep, grouped at
# the next "/" like directories, as JSON compatible with nginx's
# `autoindex_format json`: an array sorted by name of objects with
#   "name":"...", "type":"file", "mtime":"<IMF-fixdate>", "size":N, or
#   "name":"...", "type":"directory", "mtime":"<IMF-fixdate>".
# Paging: ?limit=N (at most N entries) and ?after=NAME (names after it).
#
# The index keeps every key in listing order (index_seek, index_after), so a
# listing costs what it returns, not the store: it seeks to the prefix (or
# past after=), walks on in order, and sends each entry as it comes; a
# directory is one entry, and the walk seeks past the rest of it. It stops
# at the first key not under the prefix, or at the limit.
#
# A listing never stalls the worker's other connections: it is a state
# machine (ST_LIST) whose every step is bounded (LIST_WALK nodes, one chunk
# of output), sent as JSON in chunks (Transfer-Encoding: chunked; to an
# HTTP/1.0 client, until the connection closes). Each file's size and time
# come from its record, read (and checked) when its entry is made.
#
# Its state lives in a mapping of its own (LS_*), given back at its end or
# when the connection closes. Keys written while it runs are in it if they
# come after where it stands; a key deleted before the walk reaches it is
# left out.
#
# Names are the key's bytes after the prefix, JSON-escaped exactly: UTF-8
# passes through; control bytes, quotes and backslashes are escaped; a byte
# that is not part of valid UTF-8 is written as the lone surrogate \udcXX (the
# "surrogateescape" convention: Python's json and os.fsencode give the bytes
# back). Order is by those bytes, "/" counting lowest (key_order).
.text

# list_prepare: rdi = conn of a GET or HEAD (C_NAME = the prefix, encoded;
# C_NAME_LEN = its length, 0 for "/"), rsi = the request-target, rdx = its
# length. Maps the listing's state, reads the query and sets where the walk
# starts (LS_SEEK): at the prefix, or past the after= name's directory.
# Returns eax = 0 (F_LIST set), R_400 (a bad query) or R_503 (no memory).
# Clobbers the caller-saved registers.
.globl list_prepare
list_prepare:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    call list_state
    cmp rax, -4096
    ja .Llp_nomem
    mov r14, rax
    mov qword ptr [r14 + LS_LIMIT], -1
    mov rdx, qword ptr [rbx + C_NAME_LEN]
    mov dword ptr [r14 + LS_PLEN], edx
    lea rdi, [r14 + LS_PREFIX]
    lea rsi, [rbx + C_NAME]
    call copy
    mov rdi, r14
    mov rsi, r12
    mov rdx, r13
    call list_query
    test eax, eax
    jnz .Llp_bad
    lea rdi, [r14 + LS_SEEK]              # the walk starts at the prefix,
    lea rsi, [r14 + LS_PREFIX]
    mov edx, dword ptr [r14 + LS_PLEN]
    call copy
    test dword ptr [r14 + LS_FLAGS], LF_AFTER
    jz 2f
    xor ecx, ecx                          # or past "prefix NAME/", every byte of
    lea r8, [rip + hex_upper]             # NAME as %XX (key_order decodes them)
1:  cmp ecx, dword ptr [r14 + LS_ALEN]
    jae 3f
    movzx edx, byte ptr [r14 + rcx + LS_AFTER]
    mov byte ptr [rax], '%'
    mov esi, edx
    shr esi, 4
    movzx esi, byte ptr [r8 + rsi]
    mov byte ptr [rax + 1], sil
    and edx, 15
    movzx edx, byte ptr [r8 + rdx]
    mov byte ptr [rax + 2], dl
    add rax, 3
    inc ecx
    jmp 1b
3:  mov word ptr [rax], 0x3225           # "%2F"
    mov byte ptr [rax + 2], 'F'
    add rax, 3
2:  lea rcx, [r14 + LS_SEEK]
    sub rax, rcx
    mov dword ptr [r14 + LS_SLEN], eax
    mov rdi, rbx
    mov rsi, r14
    call list_attach
    xor eax, eax
.Llp_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Llp_nomem:
    mov eax, R_503
    jmp .Llp_out
.Llp_bad:
    mov rdi, r14
    call list_state_free
    mov eax, R_400
    jmp .Llp_out

# list_query: rdi = state, rsi = request-target, rdx = its length. Reads the
# query after "?": limit=N (decimal) and after=NAME (percent-decoded, at most
# NAME_MAX bytes); other parameters are ignored.
# Returns eax = 0, or R_400. Clobbers the caller-saved registers.
list_query:
    push rbx
    push r12
    push r13
    lea r12, [rsi + rdx]                  # end
    mov r13, rdi
1:  cmp rsi, r12                          # find "?"
    jae .Llq_ok
    cmp byte ptr [rsi], '?'
    je 2f
    inc rsi
    jmp 1b
2:  inc rsi
.Llq_param:
    cmp rsi, r12
    jae .Llq_ok
    mov rbx, rsi                          # the name runs to "=", "&" or the end
3:  cmp rsi, r12
    jae 4f
    movzx eax, byte ptr [rsi]
    cmp al, '='
    je 4f
    cmp al, '&'
    je 4f
    inc rsi
    jmp 3b
4:  mov rcx, rsi
    sub rcx, rbx                          # the name's length
    mov rdx, rsi                          # the value: after "=", to "&" or the end
    cmp rsi, r12
    jae 5f
    cmp byte ptr [rsi], '='
    jne 5f
    inc rdx
    mov rsi, rdx
5:  cmp rsi, r12
    jae 6f
    cmp byte ptr [rsi], '&'
    je 6f
    inc rsi
    jmp 5b
6:  cmp rcx, 5
    jne 9f
    mov eax, dword ptr [rbx]
    cmp eax, 0x696d696c                   # "limi"
    jne 7f
    cmp byte ptr [rbx + 4], 't'
    jne 9f
    push rsi
    push rsi
    mov rdi, rdx
    sub rsi, rdx
    call parse_u64
    pop rsi
    pop rsi
    test edx, edx
    jnz .Llq_bad
    mov qword ptr [r13 + LS_LIMIT], rax
    jmp 9f
7:  cmp eax, 0x65746661                   # "afte"
    jne 9f
    cmp byte ptr [rbx + 4], 'r'
    jne 9f
    xor ecx, ecx                          # percent-decode into LS_AFTER
8:  cmp rdx, rsi
    jae 10f
    movzx eax, byte ptr [rdx]
    inc rdx
    cmp al, '%'
    jne 11f
    lea rax, [rdx + 2]
    cmp rax, rsi
    ja .Llq_bad
    push rcx
    push rsi
    movzx edi, byte ptr [rdx]
    call hex_val
    mov r8d, eax
    movzx edi, byte ptr [rdx + 1]
    call hex_val
    pop rsi
    pop rcx
    test r8d, r8d
    js .Llq_bad
    test eax, eax
    js .Llq_bad
    shl r8d, 4
    or eax, r8d
    add rdx, 2
11: cmp ecx, NAME_MAX
    jae .Llq_bad
    mov byte ptr [r13 + rcx + LS_AFTER], al
    inc ecx
    jmp 8b
10: mov dword ptr [r13 + LS_ALEN], ecx
    or dword ptr [r13 + LS_FLAGS], LF_AFTER
9:  cmp rsi, r12                          # past the "&"
    jae .Llq_ok
    inc rsi
    jmp .Llq_param
.Llq_ok:
    xor eax, eax
    jmp 12f
.Llq_bad:
    mov eax, R_400
12: pop r13
    pop r12
    pop rbx
    ret

# list_attach: rdi = conn, rsi = a listing's state (or the metrics').
# Gives the state to the conn (C_LIST, F_LIST); the body will be chunked, or,
# to an HTTP/1.0 client, end with the connection. Clobbers rax.
.globl list_attach
list_attach:
    mov eax, dword ptr [rdi + C_FLAGS]
    test eax, F_HTTP10
    jz 1f
    or eax, F_CLOSE
    jmp 2f
1:  or dword ptr [rsi + LS_FLAGS], LF_CHUNKED
2:  or eax, F_LIST
    mov dword ptr [rdi + C_FLAGS], eax
    mov qword ptr [rdi + C_LIST], rsi
    ret

# list_begin: rdi = conn with F_LIST. Answers 200 with the listing's head; a
# GET goes on to send it (ST_LIST), a HEAD is done (its state is given back).
# Clobbers the caller-saved registers.
.globl list_begin
list_begin:
    push rbx
    mov rbx, rdi
    mov edx, ST_LIST
    cmp dword ptr [rbx + C_METHOD], M_HEAD
    jne 1f
    call list_free
    mov edx, ST_DONE
1:  mov rdi, rbx
    mov esi, edx
    lea rdx, [rip + hdr_json]
    mov ecx, OFFSET hdr_json_len
    pop rbx
    jmp respond_generated

# list_state: (event loop) Returns rax = a listing's state, LS_STATE_SIZE
# bytes with its head (below LS_PREFIX) zeroed and LS_SIZE set: the one the
# last listing gave back (w_ls_spare), so a run of small listings (a
# minikeyvalue rebuild makes one a directory) maps nothing, or else a new
# mapping; or -errno. Clobbers the caller-saved registers.
.globl list_state
list_state:
    mov rax, qword ptr [rip + w_ls_spare]
    test rax, rax
    jz 1f
    mov qword ptr [rip + w_ls_spare], 0
    mov rdx, rax
    mov rdi, rax
    xor eax, eax
    mov ecx, LS_PREFIX / 8
    rep stosq
    mov rax, rdx
    jmp 2f
1:  sub rsp, 8                            # (calls aligned)
    mov edi, LS_STATE_SIZE
    call reserve_memory
    add rsp, 8
    cmp rax, -4096
    ja 3f
2:  mov qword ptr [rax + LS_SIZE], LS_STATE_SIZE
3:  ret

# list_state_free: rdi = a listing's state (list_state). Keeps it for the
# next listing if none is kept, else unmaps it. Clobbers rax, rcx, rsi, rdi, r11.
list_state_free:
    cmp qword ptr [rip + w_ls_spare], 0
    jne 1f
    mov qword ptr [rip + w_ls_spare], rdi
    ret
1:  mov rsi, qword ptr [rdi + LS_SIZE]
    mov eax, SYS_munmap                   # cannot fail on a mapping we made
    syscall
    ret

# list_free: rdi = conn. Gives its listing's state back, if it has one.
# Clobbers rax, rcx, rsi, rdi, r11.
.globl list_free
list_free:
    test dword ptr [rdi + C_FLAGS], F_LIST
    jz 1f
    and dword ptr [rdi + C_FLAGS], ~F_LIST
    mov rax, qword ptr [rdi + C_LIST]
    mov qword ptr [rdi + C_LIST], 0
    mov rdi, rax
    jmp list_state_free
1:  ret

# list_step: rdi = conn in ST_LIST. Sends what is ready, or makes more: a
# step of the walk, a chunk of JSON.
# Returns eax = STEP_*. Clobbers the caller-saved registers.
.globl list_step
list_step:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    mov rax, qword ptr [r12 + LS_OUT_POS]
    mov rdx, qword ptr [r12 + LS_OUT_LEN]
    sub rdx, rax
    jz .Lst_make
    mov edi, dword ptr [rbx + C_FD]
    lea rsi, [r12 + rax + LS_OUT]
    mov r10d, MSG_NOSIGNAL
    xor r8d, r8d
    xor r9d, r9d
    mov eax, SYS_sendto
    syscall
    test rax, rax
    js .Lst_error
    add qword ptr [r12 + LS_OUT_POS], rax
    CONN_STATS rbx
    add qword ptr [rcx + ST_OUT], rax
    mov rdi, rbx
    call alog_sent
    mov rdi, rbx                          # the client is reading: restart its stall clock
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
    jmp .Lst_go
.Lst_make:
    mov rdi, rbx                          # making the answer is no stall of the
    mov rsi, qword ptr [rip + cfg_io_timeout]  # client's: a listing that waits its
    call set_deadline                     # turn among many must not time out
    xor eax, eax
    mov qword ptr [r12 + LS_OUT_LEN], rax
    mov qword ptr [r12 + LS_OUT_POS], rax
    cmp dword ptr [r12 + LS_PHASE], LP_END
    je 3f
    mov rdi, rbx
    cmp dword ptr [r12 + LS_PHASE], LP_BACKUP
    jne 4f
    call backup_make                      # (a backup's next piece)
    test rax, rax
    js .Lst_close
    cmp dword ptr [rbx + C_STATE], ST_LIST
    jne .Lst_go                           # a file to send first (ST_WRITE)
    jmp 5f
4:  call list_walk
    test rax, rax
    js .Lst_close                         # a record that does not check out: the
5:  cmp qword ptr [r12 + LS_OUT_LEN], 0   # listing ends unfinished, as a client sees
    jne .Lst_go
    mov eax, STEP_YIELD                   # a step walked with nothing to send yet
    jmp .Lst_out
3:  mov rdi, rbx
    call list_free
    mov rdi, rbx
    call alog_done
    mov dword ptr [rbx + C_STATE], ST_DONE
.Lst_go:
    mov eax, STEP_GO
.Lst_out:
    pop r13
    pop r12
    pop rbx
    ret
.Lst_error:
    cmp rax, -EINTR
    je .Lst_go
    cmp rax, -EAGAIN
    jne .Lst_close
    mov eax, STEP_WAIT
    jmp .Lst_out
.Lst_close:
    mov rdi, rbx
    call conn_close
    mov eax, STEP_CLOSED
    jmp .Lst_out

# key_segment: rdi = the key after the prefix (encoded), rsi = its length.
# Returns rax = the length of its first segment (up to an encoded "/"), and
# edx = 1 if a "/" follows it (the key is under a directory), else 0.
# Clobbers rcx.
key_segment:
    xor eax, eax
    xor edx, edx
1:  lea rcx, [rax + 3]
    cmp rcx, rsi
    ja 2f
    cmp byte ptr [rdi + rax], '%'
    jne 3f
    cmp word ptr [rdi + rax + 1], 0x4632  # "2F"
    je 4f
    add rax, 3
    jmp 1b
3:  inc rax
    jmp 1b
2:  mov rax, rsi                          # no "/" in the rest
    ret
4:  mov edx, 1
    ret

# token_value: rdi = an encoded key, rsi = its length, rdx = a position in it
# (a token's start). Returns eax = the listing order of the byte there: 0 at
# the end, 1 for "/", the byte + 2 otherwise. Clobbers rcx, r8.
token_value:
    xor eax, eax
    cmp rdx, rsi
    jae 3f
    movzx eax, byte ptr [rdi + rdx]
    cmp al, '%'
    jne 2f
    push rdi
    movzx edi, byte ptr [rdi + rdx + 1]   # "%XX": well formed, as decode_key wrote it
    call hex_val
    mov r8d, eax
    mov rdi, qword ptr [rsp]
    movzx edi, byte ptr [rdi + rdx + 2]
    call hex_val
    pop rdi
    shl r8d, 4
    or eax, r8d
    cmp eax, '/'
    jne 2f
    mov eax, 1
    ret
2:  add eax, 2
3:  ret

# seg_cmp_bytes: rdi = an encoded segment, rsi = its length, rdx = bytes,
# ecx = their length. Compares the decoded segment with the bytes.
# Returns eax < 0, 0 or > 0. Clobbers the caller-saved registers.
seg_cmp_bytes:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    mov r14d, ecx
    xor r15d, r15d                        # position in the bytes
    xor edx, edx                          # in the segment
1:  cmp rdx, r12
    jae 4f
    cmp r15, r14
    jae 5f                                # the bytes ended first: the segment is after
    mov rdi, rbx
    mov rsi, r12
    call token_value                      # (a segment holds no "/": byte + 2)
    sub eax, 2
    movzx ecx, byte ptr [r13 + r15]
    sub eax, ecx
    jnz 6f
    inc r15
    add rdx, 1
    cmp byte ptr [rbx + rdx - 1], '%'
    jne 1b
    add rdx, 2
    jmp 1b
4:  xor eax, eax                          # the segment ended: equal or before
    cmp r15, r14
    je 6f
    dec eax
    jmp 6f
5:  mov eax, 1
6:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# list_walk: rdi = conn in ST_LIST. Walks on in listing order from LS_POS
# (from LS_SEEK at first), LIST_WALK nodes at most, writing the entries of
# what it passes into the next chunk of JSON in LS_OUT (with its chunk size,
# and the last chunk once the walk leaves the prefix or the limit is met).
# Returns rax = 0, or -errno if a record cannot be read (the listing stops).
# Clobbers the caller-saved registers.
list_walk:
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rbp
    sub rsp, 24                           # [rsp] the name's encoded length, [rsp + 8] 1: a directory,
    mov qword ptr [rsp + 16], 0           # [rsp + 16] the last node listed in this step
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    lea r13, [r12 + LS_OUT]               # where the data starts
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED
    jz 1f
    add r13, LIST_CHUNK_HEAD
1:  mov r14, r13
    test dword ptr [r12 + LS_FLAGS], LF_OPEN
    jnz 2f
    or dword ptr [r12 + LS_FLAGS], LF_OPEN
    mov byte ptr [r14], '['
    inc r14
2:  test dword ptr [r12 + LS_FLAGS], LF_SEEKED
    jnz 3f
    or dword ptr [r12 + LS_FLAGS], LF_SEEKED
    lea rdi, [r12 + LS_SEEK]
    mov esi, dword ptr [r12 + LS_SLEN]
    xor edx, edx                          # at the key a step stopped at, or (after=)
    test dword ptr [r12 + LS_FLAGS], LF_RESUME  # past that name's directory
    jnz 4f
    test dword ptr [r12 + LS_FLAGS], LF_AFTER
    setnz dl
4:  call index_seek
    mov dword ptr [r12 + LS_POS], eax
    test dword ptr [r12 + LS_FLAGS], LF_SKIP_EQ
    jz 3f
    and dword ptr [r12 + LS_FLAGS], ~LF_SKIP_EQ
5:  mov edi, dword ptr [r12 + LS_POS]     # a key listed already: its other nodes
    test edi, edi                         # (dead ones, twins: a few at most) are
    jz 3f                                 # passed over
    call index_node_at
    mov rdi, rax
    mov rsi, r12
    call ls_seek_key
    test eax, eax
    jz 3f
    mov edi, dword ptr [r12 + LS_POS]
    call index_after
    mov dword ptr [r12 + LS_POS], eax
    jmp 5b
3:  mov ebp, LIST_WALK
.Llw_next:
    mov rax, qword ptr [r12 + LS_SENT]
    cmp rax, qword ptr [r12 + LS_LIMIT]
    jae .Llw_end
    mov edi, dword ptr [r12 + LS_POS]
    test edi, edi
    jz .Llw_end
    lea rcx, [r12 + LS_OUT + LIST_OUT - LIST_ENTRY_MAX]
    cmp r14, rcx
    ja .Llw_chunk
    dec ebp
    js .Llw_chunk
    call index_node_at
    mov r15, rax
    mov rdi, rax
    call index_key
    mov ecx, dword ptr [r12 + LS_PLEN]    # under the prefix? (both encoded the one
    cmp edx, ecx                          # way decode_key does: bytes compare)
    jb .Llw_end
    xor esi, esi
4:  cmp esi, ecx
    jae 5f
    movzx edi, byte ptr [rax + rsi]
    cmp dil, byte ptr [r12 + rsi + LS_PREFIX]
    jne .Llw_end                          # past it: so is everything after
    inc esi
    jmp 4b
5:  mov esi, edx
    sub esi, ecx                          # the key after the prefix
    jz .Llw_step                          # (none: the key is the prefix's name)
    lea rdi, [rax + rcx]
    call key_segment
    mov qword ptr [rsp], rax
    mov qword ptr [rsp + 8], rdx
    test rax, rax
    jz .Llw_past                          # an empty name ("a//b" under "a/"): none
    mov rdi, r15
    call index_state
    btr rdx, LOC_CLAIM_BIT
    test rdx, rdx
    jz .Llw_step                          # no value (deleted, or never given one)
    bt rdx, LOC_TOMB_BIT
    jc .Llw_step
    mov rax, rdx
    shr rax, LOC_SEG_SHIFT                # LOC_DAMAGED: nothing a GET could give
    jz .Llw_step
    mov rdi, rdx                          # expired: as if never written (read only
    call loc_expired                      # in segments that expire puts; one moved
    test eax, eax                         # meanwhile is listed: its move kept it)
    jg .Llw_step
    test dword ptr [r12 + LS_FLAGS], LF_AFTER
    jz 6f
    mov rdi, r15
    call index_key
    mov ecx, dword ptr [r12 + LS_PLEN]
    lea rdi, [rax + rcx]
    mov rsi, qword ptr [rsp]
    lea rdx, [r12 + LS_AFTER]
    mov ecx, dword ptr [r12 + LS_ALEN]
    call seg_cmp_bytes                    # (the seek went past "NAME/", but a NAME
    test eax, eax                         # with "/" in it seeks short)
    jle .Llw_passed
6:  mov rdi, rbx
    mov rsi, r14
    mov edx, dword ptr [r12 + LS_POS]
    call list_entry
    test rax, rax
    js .Llw_out
    mov r14, rax
    mov qword ptr [rsp + 16], r15
.Llw_passed:
    cmp qword ptr [rsp + 8], 0
    jne .Llw_past                         # a directory: one entry is all of it
.Llw_step:
    mov edi, dword ptr [r12 + LS_POS]
    call index_after
    mov dword ptr [r12 + LS_POS], eax
    jmp .Llw_next
.Llw_past:                                # on past every key under "prefix name/"
    mov rdi, r15
    call index_key
    mov rdi, rax
    mov esi, dword ptr [r12 + LS_PLEN]
    add rsi, qword ptr [rsp]
    add esi, 3                            # "%2F"
    mov edx, 1
    call index_seek
    mov dword ptr [r12 + LS_POS], eax
    sub ebp, LIST_SEEK_COST               # a seek reads a few nodes a level
    jmp .Llw_next
.Llw_end:
    mov byte ptr [r14], ']'
    inc r14
    mov dword ptr [r12 + LS_PHASE], LP_END
.Llw_chunk:
    mov edi, dword ptr [r12 + LS_POS]     # the next step seeks the next key again:
    test edi, edi                         # its node may be given back meanwhile
    jz 8f
    cmp dword ptr [r12 + LS_PHASE], LP_END
    je 8f
    call index_node_at
    mov rdi, rax
    call index_key
    mov dword ptr [r12 + LS_SLEN], edx
    lea rdi, [r12 + LS_SEEK]
    mov rsi, rax
    call copy                             # (keys fit: NAME_MAX < LS_SEEK_CAP)
    and dword ptr [r12 + LS_FLAGS], ~LF_SEEKED
    or dword ptr [r12 + LS_FLAGS], LF_RESUME
    mov rdi, qword ptr [rsp + 16]         # the next key is the last one listed
    test rdi, rdi                         # (another node of it: a dead one or a
    jz 8f                                 # twin): the next step passes it over
    mov rsi, r12
    call ls_seek_key
    test eax, eax
    jz 8f
    or dword ptr [r12 + LS_FLAGS], LF_SKIP_EQ
8:  mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    call list_frame
    xor eax, eax
.Llw_out:
    add rsp, 24
    pop rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# ls_seek_key: rdi = a node, rsi = a listing's state. Returns eax = 1 if the
# node's key is LS_SEEK (LS_SLEN bytes), else 0. Clobbers rcx, rdx, rdi, r8.
ls_seek_key:
    call index_key
    xor ecx, ecx
    cmp edx, dword ptr [rsi + LS_SLEN]
    jne 2f
1:  cmp ecx, edx
    jae 3f
    movzx r8d, byte ptr [rax + rcx]
    cmp r8b, byte ptr [rsi + rcx + LS_SEEK]
    jne 2f
    inc ecx
    jmp 1b
2:  xor eax, eax
    ret
3:  mov eax, 1
    ret

# list_frame: rdi = state, rsi = the data's start in LS_OUT (LIST_CHUNK_HEAD
# after LS_OUT when chunked), rdx = its end. Frames it as a chunk (its size
# before it, CRLF after; nothing if it is empty: that would end the body),
# and the last chunk after it once the phase is LP_END; sets LS_OUT_LEN.
# Clobbers rax, rcx, rdx, rdi, r8.
.globl list_frame
list_frame:
    mov r8, rdx
    sub r8, rsi                           # the data's length
    test dword ptr [rdi + LS_FLAGS], LF_CHUNKED
    jz 4f
    test r8, r8
    jnz 1f
    lea rdx, [rdi + LS_OUT]
    jmp 5f
1:  mov ecx, 6                            # six hex digits, CRLF
2:  mov eax, r8d
    and eax, 15
    push rdx
    lea rdx, [rip + hex_upper]
    movzx eax, byte ptr [rdx + rax]
    pop rdx
    mov byte ptr [rdi + rcx + LS_OUT - 1], al
    shr r8d, 4
    dec ecx
    jnz 2b
    mov word ptr [rdi + LS_OUT + 6], 0x0a0d
    mov word ptr [rdx], 0x0a0d
    add rdx, 2
5:  cmp dword ptr [rdi + LS_PHASE], LP_END
    jne 4f
    mov byte ptr [rdx], '0'               # the last chunk, and no trailer
    mov dword ptr [rdx + 1], 0x0a0d0a0d
    add rdx, 5
4:  sub rdx, rdi
    sub rdx, LS_OUT
    mov qword ptr [rdi + LS_OUT_LEN], rdx
    ret

# list_entry: rdi = conn, rsi = where the entry's JSON goes, edx = the node
# unit of a key the walk passed. Writes its entry (a comma first if it is not the
# first), unless the key has no value any more.
# Returns rax = the end of what was written, or -errno.
# Clobbers the caller-saved registers.
list_entry:
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rbp
    sub rsp, NAME_MAX + 1 + 24            # the decoded name; [rsp + 256] time, + 264 size
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    mov r13, rsi
    mov edi, edx
    call index_node_at
    mov r14, rax                          # the node
    mov rdi, rax
    call index_key
    mov ecx, dword ptr [r12 + LS_PLEN]
    lea rdi, [rax + rcx]
    mov esi, edx
    sub esi, ecx
    call key_segment
    mov ebp, edx                          # 1: a directory
    mov r15, rax                          # the segment's encoded length
    mov rdi, r14                          # decode it
    call index_key
    mov ecx, dword ptr [r12 + LS_PLEN]
    lea rsi, [rax + rcx]
    xor r9d, r9d                          # decoded length (token_value keeps r9)
    xor edx, edx
1:  cmp rdx, r15
    jae 2f
    push rsi
    push rdx
    mov rdi, rsi
    mov rsi, r15
    call token_value
    pop rdx
    pop rsi
    sub eax, 2
    mov byte ptr [rsp + r9], al
    inc r9d
    cmp byte ptr [rsi + rdx], '%'
    jne 3f
    add rdx, 2
3:  inc rdx
    jmp 1b
2:  mov r15d, r9d                         # the decoded length
    mov ecx, 4                            # its record: time and size
.Lle_read:
    push rcx
    push rcx
    mov rdi, r14
    call index_state
    btr rdx, LOC_CLAIM_BIT
    test rdx, rdx
    jz 4f
    bt rdx, LOC_TOMB_BIT
    jc 4f
    mov rax, rdx
    shr rax, LOC_SEG_SHIFT                # (LOC_DAMAGED: as list_walk)
    jz 4f
    mov rdi, rdx
    call rec_time
    mov qword ptr [rip + w_rec + REC_VLEN], rdx  # (the value's own length, below)
    pop rcx
    pop rcx
    test rax, rax
    jns 5f
    cmp rax, -ENOENT                      # compacted meanwhile: look again
    jne .Lle_fail
    dec ecx
    jnz .Lle_read
    jmp .Lle_fail
4:  pop rcx                               # no value any more
    pop rcx
.Lle_gone:
    test ebp, ebp                         # a directory stays, dated now
    jz .Lle_skip
    mov rax, qword ptr [rip + w_unix]
    mov qword ptr [rip + w_rec + REC_VLEN], 0
5:  mov rcx, qword ptr [rip + w_unix]     # never ahead of the clock
    cmp rax, rcx
    jle 6f
    mov rax, rcx
6:  mov qword ptr [rsp + NAME_MAX + 1], rax
    mov rax, qword ptr [rip + w_rec + REC_VLEN]
    mov qword ptr [rsp + NAME_MAX + 9], rax
    mov rdi, r13
    cmp qword ptr [r12 + LS_SENT], 0
    je 7f
    mov byte ptr [rdi], ','
    inc rdi
7:  inc qword ptr [r12 + LS_SENT]
    lea rsi, [rip + json_name]
    mov edx, OFFSET json_name_len
    call copy
    mov rdi, rax
    mov rsi, rsp
    mov edx, r15d
    call json_escape
    mov rdi, rax
    lea rsi, [rip + json_file]
    mov edx, OFFSET json_file_len
    test ebp, ebp
    jz 8f
    lea rsi, [rip + json_dir]
    mov edx, OFFSET json_dir_len
8:  call copy
    mov rdi, rax
    lea rsi, [rip + json_mtime]
    mov edx, OFFSET json_mtime_len
    call copy
    mov r13, rax
    mov rdi, rax
    mov rsi, qword ptr [rsp + NAME_MAX + 1]
    call format_date
    lea rdi, [r13 + DATE_LEN]
    mov byte ptr [rdi], '"'
    inc rdi
    test ebp, ebp
    jnz 9f
    lea rsi, [rip + json_size]
    mov edx, OFFSET json_size_len
    call copy
    mov rdi, rax
    mov rsi, qword ptr [rsp + NAME_MAX + 9]
    call fmt_u64
    mov rdi, rax
9:  mov byte ptr [rdi], 0x7d             # the object's closing brace
    lea rax, [rdi + 1]
    jmp .Lle_done
.Lle_skip:
    mov rax, r13
    jmp .Lle_done
.Lle_fail:
    test rax, rax
    js .Lle_done
    mov rax, -EIO
.Lle_done:
    add rsp, NAME_MAX + 1 + 24
    pop rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# json_escape: rdi = where to write, rsi = bytes, edx = their length.
# Writes them as the inside of a JSON string: valid UTF-8 as it is; quote,
# backslash and control bytes escaped; any other byte as \udcXX.
# Returns rax = the end. Clobbers rcx, rdx, rsi, r8, r9, r10, r11.
json_escape:
    lea r9, [rsi + rdx]                   # end
1:  cmp rsi, r9
    jae 9f
    movzx eax, byte ptr [rsi]
    cmp al, 0x20
    jb .Lje_u00
    cmp al, '"'
    je .Lje_backslash
    cmp al, '\\'
    je .Lje_backslash
    cmp al, 0x80
    jae .Lje_utf8
    mov byte ptr [rdi], al
    inc rdi
    inc rsi
    jmp 1b
.Lje_backslash:
    mov byte ptr [rdi], '\\'
    mov byte ptr [rdi + 1], al
    add rdi, 2
    inc rsi
    jmp 1b
.Lje_u00:
    mov dword ptr [rdi], 0x3030755c       # "\u00"
    add rdi, 4
    jmp .Lje_hex
.Lje_utf8:
    mov r10, r9                           # how long a sequence is it, if valid?
    sub r10, rsi
    mov rdx, rsi
    call utf8_len
    test ecx, ecx
    jz .Lje_raw
2:  movzx eax, byte ptr [rsi]             # valid: copy it
    mov byte ptr [rdi], al
    inc rdi
    inc rsi
    dec ecx
    jnz 2b
    jmp 1b
.Lje_raw:
    movzx eax, byte ptr [rsi]
    mov dword ptr [rdi], 0x6364755c       # "\udc"
    add rdi, 4
.Lje_hex:
    mov ecx, eax
    shr ecx, 4
    lea r8, [rip + hex_upper]
    movzx ecx, byte ptr [r8 + rcx]
    or ecx, 0x20                          # lowercase (digits keep that bit)
    mov byte ptr [rdi], cl
    and eax, 15
    movzx eax, byte ptr [r8 + rax]
    or eax, 0x20
    mov byte ptr [rdi + 1], al
    add rdi, 2
    inc rsi
    jmp 1b
9:  mov rax, rdi
    ret

# utf8_len: rdx = bytes (the first >= 0x80), r10 = how many there are.
# Returns ecx = the length of the valid UTF-8 sequence they start with
# (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), or 0.
# Clobbers rax, r8, r11.
utf8_len:
    movzx eax, byte ptr [rdx]
    xor ecx, ecx
    mov r8d, 0x80                         # the second byte's range: [r8, r11]
    mov r11d, 0xbf
    cmp eax, 0xc2
    jb 9f
    cmp eax, 0xdf
    jbe .Lu8_two
    cmp eax, 0xef
    jbe .Lu8_three
    cmp eax, 0xf4
    ja 9f
    mov ecx, 4
    cmp eax, 0xf0
    jne 1f
    mov r8d, 0x90                         # no overlong forms
1:  cmp eax, 0xf4
    jne .Lu8_check
    mov r11d, 0x8f                        # nothing past U+10FFFF
    jmp .Lu8_check
.Lu8_three:
    mov ecx, 3
    cmp eax, 0xe0
    jne 2f
    mov r8d, 0xa0
2:  cmp eax, 0xed
    jne .Lu8_check
    mov r11d, 0x9f                        # no surrogates
    jmp .Lu8_check
.Lu8_two:
    mov ecx, 2
.Lu8_check:
    cmp r10, rcx
    jb 8f
    movzx eax, byte ptr [rdx + 1]
    cmp eax, r8d
    jb 8f
    cmp eax, r11d
    ja 8f
    cmp ecx, 2
    je 9f
    movzx eax, byte ptr [rdx + 2]
    and eax, 0xc0
    cmp eax, 0x80
    jne 8f
    cmp ecx, 3
    je 9f
    movzx eax, byte ptr [rdx + 3]
    and eax, 0xc0
    cmp eax, 0x80
    jne 8f
9:  ret
8:  xor ecx, ecx
    ret

.section .rodata
hdr_json: .ascii "Content-Type: application/json\r\n"
.equ hdr_json_len, . - hdr_json
json_name:  .byte 0x7b                    # an opening brace
            .ascii "\"name\":\""
.equ json_name_len, . - json_name
json_file:  .ascii "\",\"type\":\"file\""
.equ json_file_len, . - json_file
json_dir:   .ascii "\",\"type\":\"directory\""
.equ json_dir_len, . - json_dir
json_mtime: .ascii ",\"mtime\":\""
.equ json_mtime_len, . - json_mtime
json_size:  .ascii ",\"size\":"
.equ json_size_len, . - json_size
.text

.bss
.p2align 3
w_ls_spare: .space 8                       # (event loop) a listing's state kept for the next, 0 = none
.text
