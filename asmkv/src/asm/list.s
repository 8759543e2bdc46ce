# list.s - listings of keys: a GET or HEAD whose path ends in "/".
#
# The keys under the path (the prefix) are listed one level deep, grouped at
# the next "/" like directories, as JSON compatible with nginx's
# `autoindex_format json`: an array sorted by name of objects with
#   "name":"...", "type":"file", "mtime":"<IMF-fixdate>", "size":N, or
#   "name":"...", "type":"directory", "mtime":"<IMF-fixdate>".
# Paging: ?limit=N (at most N entries) and ?after=NAME (names after it).
#
# A listing never stalls the worker's other connections: it is a state
# machine (ST_LIST) whose every step is bounded. It walks the index's list a
# slice at a time, gathering the keys under the prefix (one entry per
# directory, by a hash set), heapsorts them a few thousand sift-downs at a
# time, and sends them as JSON in chunks (Transfer-Encoding: chunked; to an
# HTTP/1.0 client, until the connection closes). Each file's size and time
# come from its record, read (and checked) when its entry is sent.
#
# Its state lives in a mapping of its own (LS_*), given back at its end or
# when the connection closes. Keys written after the listing began may or may
# not be in it; a key deleted meanwhile is left out.
#
# Names are the key's bytes after the prefix, JSON-escaped exactly: UTF-8
# passes through; control bytes, quotes and backslashes are escaped; a byte
# that is not part of valid UTF-8 is written as the lone surrogate \udcXX (the
# "surrogateescape" convention: Python's json and os.fsencode give the bytes
# back). Order is by those bytes, "/" counting lowest.
.text

# list_prepare: rdi = conn of a GET or HEAD (C_NAME = the prefix, encoded;
# C_NAME_LEN = its length, 0 for "/"), rsi = the request-target, rdx = its
# length. Maps the listing's state and reads the query.
# Returns eax = 0 (F_LIST set), R_400 (a bad query) or R_503 (no memory).
# Clobbers the caller-saved registers.
.globl list_prepare
list_prepare:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                           # [rsp] directory set slots, [rsp+8] entries
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    call index_extent
    mov r15, rax                          # nodes from here on are not listed
    mov rax, rdx                          # (and no more keys than those can hold)
    mov qword ptr [rsp + 8], rax
    lea rcx, [rax + rax]                  # the set: a power of two, at most half full
    mov edx, 16
1:  cmp rdx, rcx
    jae 2f
    shl rdx, 1
    jmp 1b
2:  mov qword ptr [rsp], rdx
    add rdx, rax
    lea rdi, [rdx*4 + LS_ENTRIES]
    mov r14, rdi
    call reserve_memory
    cmp rax, -4096
    ja .Llp_nomem
    mov qword ptr [rax + LS_SIZE], r14
    mov r14, rax
    mov rcx, qword ptr [rsp + 8]
    mov qword ptr [r14 + LS_CAP], rcx
    lea rdx, [r14 + rcx*4 + LS_ENTRIES]
    mov qword ptr [r14 + LS_SET], rdx
    mov rcx, qword ptr [rsp]
    dec rcx
    mov qword ptr [r14 + LS_SETMASK], rcx
    mov qword ptr [r14 + LS_END], r15
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
    mov rdi, rbx
    mov rsi, r14
    call list_attach
    xor eax, eax
.Llp_out:
    add rsp, 16
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
    mov rsi, qword ptr [r14 + LS_SIZE]
    mov eax, SYS_munmap                   # cannot fail on a mapping we made
    syscall
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
    mov rsi, qword ptr [rax + LS_SIZE]
    mov eax, SYS_munmap                   # cannot fail on a mapping we made
    syscall
1:  ret

# list_step: rdi = conn in ST_LIST. Sends what is ready, or makes more: a
# slice of the walk, of the sort, or a chunk of JSON.
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
    mov eax, dword ptr [r12 + LS_PHASE]
    cmp eax, LP_SCAN
    je 1f
    cmp eax, LP_EMIT
    je 2f
    cmp eax, LP_END
    je 3f
    mov rdi, r12
    call list_sort
    jmp .Lst_yield
1:  mov rdi, r12
    call list_scan
.Lst_yield:
    mov eax, STEP_YIELD
    jmp .Lst_out
2:  mov rdi, rbx
    call list_emit
    test rax, rax
    js .Lst_close                         # a record that does not check out: the
    jmp .Lst_go                           # listing ends unfinished, as a client sees
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

# list_scan: rdi = state. Walks a slice of the index's list, gathering each
# key under the prefix that has a value: its entry if it is a file, or its
# directory's entry if that is not gathered yet. Clobbers the caller-saved registers.
list_scan:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r12, rdi
    mov ebx, dword ptr [r12 + LS_SCAN]    # the last node looked at (0: none yet)
    mov r13d, LIST_SLICE / 4              # nodes looked at in this step
.Lsc_node:
    dec r13d
    js .Lsc_done
    mov edi, ebx
    call index_next
    test eax, eax
    jz .Lsc_end                           # the end of the list
    mov ebx, eax
    mov r15, rdx                          # the node
    cmp rbx, qword ptr [r12 + LS_END]     # linked since the listing began
    jae .Lsc_node
    test ecx, ecx                         # a bucket's dummy: no key
    jz .Lsc_node
    mov rdi, r15
    call index_state
    btr rdx, LOC_CLAIM_BIT
    test rdx, rdx
    jz .Lsc_skip
    bt rdx, LOC_TOMB_BIT
    jc .Lsc_skip
    mov rdi, r15
    call index_key
    mov r14, rax                          # its key
    mov ecx, dword ptr [r12 + LS_PLEN]
    cmp edx, ecx
    jbe .Lsc_skip
    mov esi, edx
    sub esi, ecx                          # the length after the prefix
    xor edx, edx                          # the prefix
1:  cmp edx, ecx
    jae 2f
    movzx eax, byte ptr [r14 + rdx]
    cmp al, byte ptr [r12 + rdx + LS_PREFIX]
    jne .Lsc_skip
    inc edx
    jmp 1b
2:  lea rdi, [r14 + rcx]
    call key_segment
    test rax, rax
    jz .Lsc_skip                          # an empty name ("a//b" under "a/")
    test dword ptr [r12 + LS_FLAGS], LF_AFTER
    jz 3f
    push rax
    push rdx
    mov ecx, dword ptr [r12 + LS_PLEN]
    lea rdi, [r14 + rcx]
    mov rsi, rax
    lea rdx, [r12 + LS_AFTER]
    mov ecx, dword ptr [r12 + LS_ALEN]
    call seg_cmp_bytes
    mov ecx, eax
    pop rdx
    pop rax
    test ecx, ecx
    jle .Lsc_skip                         # not after the after= name
3:  test edx, edx
    jz .Lsc_add
    mov rdi, r12
    mov rsi, r15
    mov rdx, rax
    call dir_seen
    test eax, eax
    jnz .Lsc_skip
.Lsc_add:
    mov rax, qword ptr [r12 + LS_N]
    cmp rax, qword ptr [r12 + LS_CAP]     # (cannot be full: LS_END bounds the nodes)
    jae .Lsc_skip
    mov dword ptr [r12 + rax*4 + LS_ENTRIES], ebx
    inc qword ptr [r12 + LS_N]
.Lsc_skip:
    jmp .Lsc_node
.Lsc_done:                                # the slice is spent: go on from here
    mov qword ptr [r12 + LS_SCAN], rbx    # at the next step
    jmp 4f
.Lsc_end:
    mov rax, qword ptr [r12 + LS_N]       # walked: sort (heapify from the middle)
    shr rax, 1
    mov qword ptr [r12 + LS_I], rax
    mov rax, qword ptr [r12 + LS_N]
    mov qword ptr [r12 + LS_J], rax
    mov dword ptr [r12 + LS_PHASE], LP_HEAPIFY
4:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# dir_seen: rdi = state, rsi = a node under a directory, rdx = the length of
# its first segment after the prefix. Returns eax = 1 if an entry for that
# directory is gathered already; else 0, and the entry about to be gathered
# (LS_N) is remembered for it. Clobbers the caller-saved registers.
dir_seen:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    lea r13, [rdx + 3]
    mov rdi, rsi
    call index_key
    mov ecx, dword ptr [rbx + LS_PLEN]
    lea r12, [rax + rcx]                  # the segment and its "%2F"
    mov rax, 0xcbf29ce484222325           # FNV-1a: the set is private, no seed needed
    mov r8, 0x100000001b3
    xor ecx, ecx
1:  cmp rcx, r13
    jae 2f
    movzx edx, byte ptr [r12 + rcx]
    xor rax, rdx
    imul rax, r8
    inc rcx
    jmp 1b
2:  mov r14, rax
    mov r15, qword ptr [rbx + LS_SET]
.Lds_probe:
    and r14, qword ptr [rbx + LS_SETMASK]
    mov eax, dword ptr [r15 + r14*4]
    test eax, eax
    jz .Lds_new
    mov edi, dword ptr [rbx + rax*4 + LS_ENTRIES - 4]
    call index_node_at                    # the node gathered for it
    mov rdi, rax
    call index_key
    mov ecx, dword ptr [rbx + LS_PLEN]
    sub edx, ecx
    cmp rdx, r13
    jb .Lds_other
    lea rsi, [rax + rcx]
    xor ecx, ecx
3:  cmp rcx, r13
    jae .Lds_same
    movzx edx, byte ptr [rsi + rcx]
    cmp dl, byte ptr [r12 + rcx]
    jne .Lds_other
    inc rcx
    jmp 3b
.Lds_other:
    inc r14
    jmp .Lds_probe
.Lds_same:
    mov eax, 1
    jmp .Lds_out
.Lds_new:
    mov rax, qword ptr [rbx + LS_N]
    inc eax
    mov dword ptr [r15 + r14*4], eax
    xor eax, eax
.Lds_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
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

# ent_cmp: rdi = node A, rsi = node B, edx = the prefix's length. Compares
# their keys after the prefix in listing order (decoded bytes, "/" lowest).
# Returns eax < 0, 0 or > 0. Clobbers the caller-saved registers.
ent_cmp:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r15d, edx                         # the prefix's length
    call index_key
    mov r12d, edx
    sub r12, r15
    lea rbx, [rax + r15]                  # A after the prefix, r12 bytes
    mov rdi, rsi
    call index_key
    mov r14d, edx
    sub r14, r15
    lea r13, [rax + r15]                  # B, r14 bytes
    xor edx, edx                          # equal encoded bytes are equal bytes
1:  cmp rdx, r12
    jae 3f
    cmp rdx, r14
    jae 3f
    movzx eax, byte ptr [rbx + rdx]
    cmp al, byte ptr [r13 + rdx]
    jne 2f
    inc rdx
    jmp 1b
2:  test rdx, rdx                         # they differ inside a token: from its start
    jz 3f
    cmp byte ptr [rbx + rdx - 1], '%'
    jne 4f
    dec rdx
    jmp 3f
4:  cmp rdx, 2
    jb 3f
    cmp byte ptr [rbx + rdx - 2], '%'
    jne 3f
    sub rdx, 2
3:  mov r15, rdx
    mov rdi, rbx
    mov rsi, r12
    call token_value
    push rax
    push rax
    mov rdi, r13
    mov rsi, r14
    mov rdx, r15
    call token_value
    pop rcx
    pop rcx
    sub ecx, eax
    mov eax, ecx
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

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

# list_sort: rdi = state. A bounded share of the heapsort of the gathered
# entries: building the heap, then taking the largest out, LIST_SORT_STEPS
# sift-downs at most. Clobbers the caller-saved registers.
list_sort:
    push rbx
    push r12
    push r13
    sub rsp, 16
    mov rbx, rdi
    mov r12d, LIST_SORT_STEPS
    cmp dword ptr [rbx + LS_PHASE], LP_EXTRACT
    je .Lso_extract
.Lso_heapify:
    mov r13, qword ptr [rbx + LS_I]
1:  test r13, r13
    jz 2f
    test r12d, r12d
    jz 3f
    dec r12d
    dec r13
    mov rdi, rbx
    mov rsi, r13
    mov rdx, qword ptr [rbx + LS_N]
    call sift_down
    jmp 1b
3:  mov qword ptr [rbx + LS_I], r13
    jmp .Lso_out
2:  mov qword ptr [rbx + LS_I], 0
    mov dword ptr [rbx + LS_PHASE], LP_EXTRACT
.Lso_extract:
    mov r13, qword ptr [rbx + LS_J]
4:  cmp r13, 1
    jbe 5f
    test r12d, r12d
    jz 6f
    dec r12d
    dec r13
    mov eax, dword ptr [rbx + LS_ENTRIES]
    mov ecx, dword ptr [rbx + r13*4 + LS_ENTRIES]
    mov dword ptr [rbx + LS_ENTRIES], ecx
    mov dword ptr [rbx + r13*4 + LS_ENTRIES], eax
    mov rdi, rbx
    xor esi, esi
    mov rdx, r13
    call sift_down
    jmp 4b
6:  mov qword ptr [rbx + LS_J], r13
    jmp .Lso_out
5:  mov qword ptr [rbx + LS_J], 0
    mov qword ptr [rbx + LS_I], 0         # sorted: send them from the first
    mov dword ptr [rbx + LS_PHASE], LP_EMIT
.Lso_out:
    add rsp, 16
    pop r13
    pop r12
    pop rbx
    ret

# sift_down: rdi = state, rsi = a position, rdx = the heap's size. Moves the
# entry at the position down until it is after neither child (a max-heap in
# listing order). Clobbers the caller-saved registers.
sift_down:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
.Lsd_loop:
    lea r14, [r12*2 + 1]                  # the left child
    cmp r14, r13
    jae .Lsd_out
    lea r15, [r14 + 1]
    cmp r15, r13
    jae 1f
    mov rdi, r15                          # the larger child
    mov rsi, r14
    call .Lsd_cmp
    test eax, eax
    jle 1f
    mov r14, r15
1:  mov rdi, r14
    mov rsi, r12
    call .Lsd_cmp
    test eax, eax
    jle .Lsd_out
    mov eax, dword ptr [rbx + r12*4 + LS_ENTRIES]
    mov ecx, dword ptr [rbx + r14*4 + LS_ENTRIES]
    mov dword ptr [rbx + r12*4 + LS_ENTRIES], ecx
    mov dword ptr [rbx + r14*4 + LS_ENTRIES], eax
    mov r12, r14
    jmp .Lsd_loop
.Lsd_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# .Lsd_cmp: rdi, rsi = two positions. ent_cmp of their entries (rbx = state).
.Lsd_cmp:
    push r12
    mov r12, rsi
    mov edi, dword ptr [rbx + rdi*4 + LS_ENTRIES]
    call index_node_at
    mov edi, dword ptr [rbx + r12*4 + LS_ENTRIES]
    mov r12, rax
    call index_node_at
    mov rsi, rax
    mov rdi, r12
    mov edx, dword ptr [rbx + LS_PLEN]
    call ent_cmp
    pop r12
    ret

# list_emit: rdi = conn in ST_LIST, its entries sorted. Writes the next chunk
# of JSON into LS_OUT (with its chunk size, and the last chunk after it).
# Returns rax = 0, or -errno if a record cannot be read (the listing stops).
# Clobbers the caller-saved registers.
list_emit:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    lea r13, [r12 + LS_OUT]               # where the data starts
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED
    jz 1f
    add r13, LIST_CHUNK_HEAD
1:  mov r14, r13
    test dword ptr [r12 + LS_FLAGS], LF_OPEN
    jnz .Lle_next
    or dword ptr [r12 + LS_FLAGS], LF_OPEN
    mov byte ptr [r14], '['
    inc r14
.Lle_next:
    mov rax, qword ptr [r12 + LS_SENT]
    cmp rax, qword ptr [r12 + LS_LIMIT]
    jae .Lle_end
    mov rax, qword ptr [r12 + LS_I]
    cmp rax, qword ptr [r12 + LS_N]
    jae .Lle_end
    lea rcx, [r12 + LS_OUT + LIST_OUT - LIST_ENTRY_MAX]
    cmp r14, rcx
    ja .Lle_chunk
    inc qword ptr [r12 + LS_I]
    mov edx, dword ptr [r12 + rax*4 + LS_ENTRIES]
    mov rdi, rbx
    mov rsi, r14
    call list_entry
    test rax, rax
    js .Lle_out
    mov r14, rax
    jmp .Lle_next
.Lle_end:
    mov byte ptr [r14], ']'
    inc r14
    mov dword ptr [r12 + LS_PHASE], LP_END
.Lle_chunk:
    mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    call list_frame
    xor eax, eax
.Lle_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
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
# unit of a gathered key. Writes its entry (a comma first if it is not the
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
    mov rdi, rdx
    call rec_time
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
