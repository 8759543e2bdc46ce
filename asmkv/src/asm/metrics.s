# metrics.s - counters, and GET /metrics in the Prometheus text format.
#
# Each child process counts in its own block of the shared index (IX_STATS,
# one per slot; w_stats in the process): plain adds by the one thread that
# owns each counter (the flusher has its own), no locks. A scrape, served by
# whichever worker takes the connection on the --metrics socket, sums every
# slot's block. A worker that dies leaves its counts, and its successor in the
# slot goes on from them, so counters only grow while the server runs.
.text

# stats_init: (a child, at start) finds its block and counts its start.
# Clobbers rax, rcx.
.globl stats_init
stats_init:
    mov eax, dword ptr [rip + w_slot]
    shl rax, 12                           # STATS_SIZE
    add rax, qword ptr [rip + ix_base]
    add rax, IX_STATS
    mov qword ptr [rip + w_stats], rax
    mov qword ptr [rax + ST_OPEN], 0      # the last one's connections died with it
    inc qword ptr [rax + ST_STARTS]
    ret

# stat_open: publishes the worker's count of open client connections.
# Clobbers rax, rcx.
.globl stat_open
stat_open:
    mov rax, qword ptr [rip + w_active]
    sub rax, qword ptr [rip + w_scrapers] # the metrics socket's are not clients
    mov rcx, qword ptr [rip + w_stats]
    mov qword ptr [rcx + ST_OPEN], rax
    ret

# stat_answer: rdi = conn, esi = STAT kind (an R_* kind, or STAT_200).
# Counts an answer by its method and status. Clobbers rax, rcx.
.globl stat_answer
stat_answer:
    mov eax, dword ptr [rdi + C_METHOD]
    cmp eax, M_DELETE
    jbe 1f
    xor eax, eax                          # M_KNOWN, M_UNKNOWN: "other"
1:  shl eax, 5                            # STAT_KINDS
    add eax, esi
    cmp qword ptr [rip + w_stats], 0
    je 2f                                 # (the import answers no one)
    CONN_STATS rdi
    inc qword ptr [rcx + rax*8 + ST_REQ]
    jmp alog_answer                       # and its access log line is pending
2:  ret

# stat_group: (flusher) edi = writes in a group, rsi = ns its flushes took.
# Counts a group commit. Clobbers rax, rcx, rdx.
.globl stat_group
stat_group:
    mov rcx, qword ptr [rip + w_stats]
    inc qword ptr [rcx + ST_GROUPS]
    add qword ptr [rcx + ST_GROUP_WRITES], rdi
    add qword ptr [rcx + ST_FLUSH_NS], rsi
    xor eax, eax                          # its size bucket: le 1, 2, 4, ... 512, +Inf
    mov edx, 1
1:  cmp rdi, rdx
    jbe 2f
    shl edx, 1
    inc eax
    cmp eax, GROUP_BUCKETS - 1
    jb 1b
2:  inc qword ptr [rcx + rax*8 + ST_GROUP_LE]
    xor eax, eax                          # its latency bucket
    lea rdx, [rip + flush_bounds_ns]
3:  cmp rsi, qword ptr [rdx + rax*8]
    jbe 4f
    inc eax
    cmp eax, FLUSH_BUCKETS - 1
    jb 3b
4:  inc qword ptr [rcx + rax*8 + ST_FLUSH_LE]
    ret

# metrics_route: rdi = conn on the metrics socket, its target decoded into
# C_NAME. GET or HEAD of /metrics is the metrics; anything else is 404 (405
# for other methods). Clobbers the caller-saved registers.
.globl metrics_route
metrics_route:
    push rbx
    mov rbx, rdi
    mov ecx, dword ptr [rbx + C_METHOD]
    mov esi, R_405
    cmp ecx, M_GET
    je 1f
    cmp ecx, M_HEAD
    jne 9f
1:  mov rdi, rbx
    lea rsi, [rip + word_backup]
    mov edx, 6
    call name_is
    test eax, eax
    jz 2f
    mov esi, R_405                        # (it lets every segment go: not for a HEAD)
    cmp dword ptr [rbx + C_METHOD], M_GET
    jne 9f
    mov rdi, rbx
    pop rbx
    jmp backup_begin
2:  mov rdi, rbx
    lea rsi, [rip + word_metrics]
    mov edx, 7
    call name_is
    mov esi, R_404
    test eax, eax
    jz 9f
    mov rdi, rbx
    call metrics_begin
    pop rbx
    ret
9:  mov rdi, rbx
    pop rbx
    jmp respond

# name_is: rdi = conn, rsi = a name, edx = its length. Returns eax = 1 if
# the conn's decoded target (C_NAME) is exactly that name. Clobbers rcx,
# rdx, rsi, rdi.
name_is:
    xor eax, eax
    cmp qword ptr [rdi + C_NAME_LEN], rdx
    jne 1f
    lea rdi, [rdi + C_NAME]
    jmp mem_eq
1:  ret

# mem_eq: rdi, rsi = bytes, rdx = how many. Returns eax = 1 if equal.
# Clobbers rcx.
mem_eq:
    xor ecx, ecx
1:  cmp rcx, rdx
    jae 2f
    movzx eax, byte ptr [rdi + rcx]
    cmp al, byte ptr [rsi + rcx]
    jne 3f
    inc rcx
    jmp 1b
2:  mov eax, 1
    ret
3:  xor eax, eax
    ret

# metrics_begin: rdi = conn (GET or HEAD /metrics). Writes the whole text
# into a listing's state (list.s sends it and gives it back) and starts the
# answer. Clobbers the caller-saved registers.
metrics_begin:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    call list_state                       # the output buffer is all it needs
    cmp rax, -4096
    ja .Lmb_nomem
    mov r12, rax
    mov dword ptr [r12 + LS_PHASE], LP_END
    mov rdi, rbx
    mov rsi, r12
    call list_attach
    lea r13, [r12 + LS_OUT]               # where the text goes: after the room for
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED  # a chunk's size if it is chunked
    jz 1f                                 # (HTTP/1.0 is framed by the close alone)
    add r13, LIST_CHUNK_HEAD
1:
    mov r14, r13
    call .Lmb_requests
    call .Lmb_scrapes
    call .Lmb_counters
    call .Lmb_groups
    mov rdi, r12
    mov rsi, r13                          # the text's start
    mov rdx, r14                          # its end
    call list_frame
    mov rdi, rbx
    mov esi, ST_LIST
    cmp dword ptr [rbx + C_METHOD], M_HEAD
    jne 3f
    call list_free                        # HEAD: the head alone
    mov rdi, rbx
    mov esi, ST_DONE
3:  lea rdx, [rip + hdr_prometheus]
    mov ecx, OFFSET hdr_prometheus_len
    call respond_generated
.Lmb_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lmb_nomem:
    mov rdi, rbx
    mov esi, R_503
    call respond
    jmp .Lmb_out

# The parts of the text: each writes at r14 and moves it on (rbx = conn,
# r12 = state). They clobber the caller-saved registers and r15.

# .Lmb_requests: asmkv_requests_total by method and status, the non-zero ones.
.Lmb_requests:
    sub rsp, 8
    lea rsi, [rip + m_requests_head]
    mov edx, OFFSET m_requests_head_len
    call .Lmb_text
    xor r15d, r15d                        # method * STAT_KINDS + kind
1:  mov rdi, r15
    shl rdi, 3
    add rdi, ST_REQ
    call .Lmb_sum
    test rax, rax
    jz 5f
    push rax
    push rax
    lea rsi, [rip + m_requests_name]
    mov edx, OFFSET m_requests_name_len
    call .Lmb_text
    mov eax, r15d                         # the method's name
    shr eax, 5
    lea rcx, [rip + m_method_names]
    mov rsi, qword ptr [rcx + rax*8]
    mov rdi, rsi
    call cstr_len
    mov rdx, rax
    call .Lmb_text
    lea rsi, [rip + m_code]
    mov edx, OFFSET m_code_len
    call .Lmb_text
    mov eax, r15d
    and eax, STAT_KINDS - 1
    call .Lmb_code
    pop rsi
    pop rsi
    call .Lmb_number_line
5:  inc r15d
    cmp r15d, STAT_METHODS * STAT_KINDS
    jb 1b
    add rsp, 8
    ret

# .Lmb_scrapes: asmkv_scrapes_total by status, the non-zero ones: the
# metrics socket's answers (all methods), counted apart from the API's.
.Lmb_scrapes:
    push rbx
    lea rsi, [rip + m_scrapes_head]
    mov edx, OFFSET m_scrapes_head_len
    call .Lmb_text
    xor r15d, r15d                        # the kind
1:  xor ebx, ebx                          # its sum over the methods
    xor r8d, r8d                          # the method
2:  mov edi, r8d
    shl edi, 5                            # STAT_KINDS
    add edi, r15d
    shl edi, 3
    add edi, ST_REQ + STATS_SCRAPE
    call .Lmb_sum
    add rbx, rax
    inc r8d
    cmp r8d, STAT_METHODS
    jb 2b
    test rbx, rbx
    jz 5f
    lea rsi, [rip + m_scrapes_name]
    mov edx, OFFSET m_scrapes_name_len
    call .Lmb_text
    mov eax, r15d
    call .Lmb_code
    mov rsi, rbx
    call .Lmb_number_line
5:  inc r15d
    cmp r15d, STAT_KINDS
    jb 1b
    pop rbx
    ret

# .Lmb_counters: bytes, connections, keys, records, restarts, timeouts.
.Lmb_counters:
    sub rsp, 8
    mov edi, ST_IN
    lea rsi, [rip + m_in]
    mov edx, OFFSET m_in_len
    call .Lmb_summed
    mov edi, ST_OUT
    lea rsi, [rip + m_out]
    mov edx, OFFSET m_out_len
    call .Lmb_summed
    mov edi, ST_OPEN
    lea rsi, [rip + m_open]
    mov edx, OFFSET m_open_len
    call .Lmb_summed
    lea rsi, [rip + m_keys]
    mov edx, OFFSET m_keys_len
    call .Lmb_text
    call index_stats
    mov rsi, rax
    call .Lmb_number_line
    lea rsi, [rip + m_buckets]
    mov edx, OFFSET m_buckets_len
    call .Lmb_text
    call index_stats
    mov rsi, rdx
    call .Lmb_number_line
    lea rsi, [rip + m_nodes]
    mov edx, OFFSET m_nodes_len
    call .Lmb_text
    call index_stats
    mov rsi, r8
    call .Lmb_number_line
    lea rsi, [rip + m_node_bytes]
    mov edx, OFFSET m_node_bytes_len
    call .Lmb_text
    call index_stats
    mov rsi, rcx
    call .Lmb_number_line
    lea rsi, [rip + m_nodes_freed]
    mov edx, OFFSET m_nodes_freed_len
    call .Lmb_text
    call index_stats
    mov rsi, r9
    call .Lmb_number_line
    lea rsi, [rip + m_nodes_reused]
    mov edx, OFFSET m_nodes_reused_len
    call .Lmb_text
    call index_stats
    mov rsi, r10
    call .Lmb_number_line
    lea rsi, [rip + m_walk_max]
    mov edx, OFFSET m_walk_max_len
    call .Lmb_text
    call index_stats
    mov esi, r11d
    call .Lmb_number_line
    lea rsi, [rip + m_damaged]
    mov edx, OFFSET m_damaged_len
    call .Lmb_text
    call damage_stats
    mov rsi, rax
    call .Lmb_number_line
    lea rsi, [rip + m_damaged_bytes]
    mov edx, OFFSET m_damaged_bytes_len
    call .Lmb_text
    call damage_stats
    mov rsi, rdx
    call .Lmb_number_line
    lea rsi, [rip + m_expired]
    mov edx, OFFSET m_expired_len
    call .Lmb_text
    call expiry_stats
    mov rsi, rax
    call .Lmb_number_line
    lea rsi, [rip + m_scrubbed]
    mov edx, OFFSET m_scrubbed_len
    call .Lmb_text
    call scrub_stats
    mov rsi, rax
    call .Lmb_number_line
    lea rsi, [rip + m_scrub_passes]
    mov edx, OFFSET m_scrub_passes_len
    call .Lmb_text
    call scrub_stats
    mov rsi, rdx
    call .Lmb_number_line
    lea rsi, [rip + m_scrub_pass_at]
    mov edx, OFFSET m_scrub_pass_at_len
    call .Lmb_text
    call scrub_stats
    mov rsi, rcx
    call .Lmb_number_line
    # records and their bytes: live and dead, from the segments' counts
    call seg_totals
    mov r15, rax                          # live
    mov r8, rdx                           # dead
    push rdi
    push rsi
    push r8
    push r8
    lea rsi, [rip + m_records]
    mov edx, OFFSET m_records_len
    call .Lmb_text
    mov rsi, r15
    call .Lmb_number_line
    lea rsi, [rip + m_records_dead]
    mov edx, OFFSET m_records_dead_len
    call .Lmb_text
    pop rsi
    pop rsi
    call .Lmb_number_line
    lea rsi, [rip + m_bytes]
    mov edx, OFFSET m_bytes_len
    call .Lmb_text
    pop rsi
    push rsi
    call .Lmb_number_line
    lea rsi, [rip + m_bytes_dead]
    mov edx, OFFSET m_bytes_dead_len
    call .Lmb_text
    pop rsi
    pop rsi
    call .Lmb_number_line
    # restarts: starts beyond the first of each slot, workers and compactor
    xor r15d, r15d
    xor ecx, ecx
4:  cmp ecx, dword ptr [rip + cfg_workers]
    jae 5f
    mov rax, rcx
    shl rax, 12
    add rax, qword ptr [rip + ix_base]
    mov rdx, qword ptr [rax + IX_STATS + ST_STARTS]
    test rdx, rdx
    jz 6f
    lea r15, [r15 + rdx - 1]
6:  inc ecx
    jmp 4b
5:  lea rsi, [rip + m_restarts]
    mov edx, OFFSET m_restarts_len
    call .Lmb_text
    mov rsi, r15
    call .Lmb_number_line
    mov eax, dword ptr [rip + cfg_workers]
    shl rax, 12
    add rax, qword ptr [rip + ix_base]
    mov r15, qword ptr [rax + IX_STATS + ST_STARTS]
    test r15, r15
    jz 7f
    dec r15
7:  lea rsi, [rip + m_restarts_compactor]
    mov edx, OFFSET m_restarts_compactor_len
    call .Lmb_text
    mov rsi, r15
    call .Lmb_number_line
    # timeouts, by what timed out
    lea rsi, [rip + m_timeouts_head]
    mov edx, OFFSET m_timeouts_head_len
    call .Lmb_text
    xor r15d, r15d
8:  lea rsi, [rip + m_timeouts_name]
    mov edx, OFFSET m_timeouts_name_len
    call .Lmb_text
    lea rcx, [rip + m_timeout_kinds]
    mov rsi, qword ptr [rcx + r15*8]
    mov rdi, rsi
    call cstr_len
    mov rdx, rax
    call .Lmb_text
    lea rsi, [rip + m_close]
    mov edx, OFFSET m_close_len
    call .Lmb_text
    lea rdi, [r15*8 + ST_TIMEOUTS]
    call .Lmb_sum
    mov rsi, rax
    call .Lmb_number_line
    inc r15d
    cmp r15d, 4
    jb 8b
    add rsp, 8
    ret

# .Lmb_groups: group commits, their sizes and flush times (histograms).
.Lmb_groups:
    sub rsp, 8
    mov edi, ST_GROUPS
    lea rsi, [rip + m_groups]
    mov edx, OFFSET m_groups_len
    call .Lmb_summed
    lea rsi, [rip + m_gsize_head]
    mov edx, OFFSET m_gsize_head_len
    call .Lmb_text
    xor r15d, r15d                        # cumulative, as Prometheus wants
    push r15
    push r15
1:  lea rsi, [rip + m_gsize_bucket]
    mov edx, OFFSET m_gsize_bucket_len
    call .Lmb_text
    cmp r15d, GROUP_BUCKETS - 1
    jae 2f
    mov rdi, r14
    mov esi, 1
    mov ecx, r15d
    shl rsi, cl
    call fmt_u64
    mov r14, rax
    jmp 3f
2:  lea rsi, [rip + m_inf]
    mov edx, OFFSET m_inf_len
    call .Lmb_text
3:  lea rsi, [rip + m_close]
    mov edx, OFFSET m_close_len
    call .Lmb_text
    lea rdi, [r15*8 + ST_GROUP_LE]
    call .Lmb_sum
    add qword ptr [rsp], rax
    mov rsi, qword ptr [rsp]
    call .Lmb_number_line
    inc r15d
    cmp r15d, GROUP_BUCKETS
    jb 1b
    lea rsi, [rip + m_gsize_sum]
    mov edx, OFFSET m_gsize_sum_len
    mov edi, ST_GROUP_WRITES
    call .Lmb_summed
    lea rsi, [rip + m_gsize_count]
    mov edx, OFFSET m_gsize_count_len
    mov edi, ST_GROUPS
    call .Lmb_summed
    lea rsi, [rip + m_flush_head]
    mov edx, OFFSET m_flush_head_len
    call .Lmb_text
    xor r15d, r15d
    mov qword ptr [rsp], 0
4:  lea rsi, [rip + m_flush_bucket]
    mov edx, OFFSET m_flush_bucket_len
    call .Lmb_text
    lea rcx, [rip + flush_bounds_text]
    mov rsi, qword ptr [rcx + r15*8]
    mov rdi, rsi
    call cstr_len
    mov rdx, rax
    call .Lmb_text
    lea rsi, [rip + m_close]
    mov edx, OFFSET m_close_len
    call .Lmb_text
    lea rdi, [r15*8 + ST_FLUSH_LE]
    call .Lmb_sum
    add qword ptr [rsp], rax
    mov rsi, qword ptr [rsp]
    call .Lmb_number_line
    inc r15d
    cmp r15d, FLUSH_BUCKETS
    jb 4b
    lea rsi, [rip + m_flush_sum]          # seconds, from nanoseconds
    mov edx, OFFSET m_flush_sum_len
    call .Lmb_text
    mov edi, ST_FLUSH_NS
    call .Lmb_sum
    xor edx, edx
    mov ecx, 1000000000
    div rcx
    push rdx
    push rdx
    mov rdi, r14
    mov rsi, rax
    call fmt_u64
    mov byte ptr [rax], '.'
    lea r14, [rax + 10]
    pop rax
    pop rax
    mov ecx, 9                            # nine digits, zero-padded
5:  xor edx, edx
    mov r8d, 10
    div r8
    add dl, '0'
    mov byte ptr [r14 + rcx - 10], dl
    dec ecx
    jnz 5b
    mov byte ptr [r14], LF
    inc r14
    lea rsi, [rip + m_flush_count]
    mov edx, OFFSET m_flush_count_len
    mov edi, ST_GROUPS
    call .Lmb_summed
    add rsp, 24
    ret

# .Lmb_text: rsi = text, rdx = its length, copied at r14.
.Lmb_text:
    mov rdi, r14
    call copy
    mov r14, rax
    ret

# .Lmb_code: eax = an answer's kind: its status code's three digits, then the
# label's end, at r14.
.Lmb_code:
    sub rsp, 8
    call status_digits
    mov edx, 3
    call .Lmb_text
    lea rsi, [rip + m_close]
    mov edx, OFFSET m_close_len
    call .Lmb_text
    add rsp, 8
    ret

# .Lmb_number_line: rsi = a number: " N\n" at r14.
.Lmb_number_line:
    mov byte ptr [r14], SPACE
    lea rdi, [r14 + 1]
    call fmt_u64
    mov byte ptr [rax], LF
    lea r14, [rax + 1]
    ret

# .Lmb_sum: rdi = a counter's offset in a stats block. Returns rax = its sum
# over every child's block. Clobbers rcx, rdx.
.Lmb_sum:
    xor eax, eax
    mov rdx, qword ptr [rip + ix_base]
    add rdx, IX_STATS
    add rdx, rdi
    mov ecx, dword ptr [rip + cfg_workers]
    inc ecx                               # and the compactor's
1:  add rax, qword ptr [rdx]
    add rdx, STATS_SIZE
    dec ecx
    jnz 1b
    ret

# .Lmb_summed: edi = a counter's offset, rsi = its HELP, TYPE and name text,
# rdx = that text's length: the text, then the sum.
.Lmb_summed:
    push rdi
    push rdi
    call .Lmb_text
    pop rdi
    pop rdi
    call .Lmb_sum
    mov rsi, rax
    jmp .Lmb_number_line


.section .rodata
word_metrics: .ascii "metrics"
word_backup: .ascii "backup"
hdr_prometheus: .ascii "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
.equ hdr_prometheus_len, . - hdr_prometheus
.p2align 3
flush_bounds_ns:                          # the flush histogram's bounds, ns
    .quad 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
    .quad 25000000, 100000000, 1000000000, -1
flush_bounds_text:
    .quad b_100us, b_250us, b_500us, b_1ms, b_2500us, b_5ms, b_10ms
    .quad b_25ms, b_100ms, b_1s, b_inf
b_100us: .asciz "0.0001"
b_250us: .asciz "0.00025"
b_500us: .asciz "0.0005"
b_1ms:   .asciz "0.001"
b_2500us: .asciz "0.0025"
b_5ms:   .asciz "0.005"
b_10ms:  .asciz "0.01"
b_25ms:  .asciz "0.025"
b_100ms: .asciz "0.1"
b_1s:    .asciz "1"
b_inf:   .asciz "+Inf"
m_method_names:
    .quad mn_other, mn_get, mn_head, mn_put, mn_post, mn_delete
mn_other:  .asciz "other"
mn_get:    .asciz "GET"
mn_head:   .asciz "HEAD"
mn_put:    .asciz "PUT"
mn_post:   .asciz "POST"
mn_delete: .asciz "DELETE"
m_timeout_kinds:
    .quad tk_idle, tk_request, tk_upload, tk_download
tk_idle:     .asciz "idle"
tk_request:  .asciz "request"
tk_upload:   .asciz "upload"
tk_download: .asciz "download"
m_requests_head:
    .ascii "# HELP asmkv_requests_total Requests answered, by method and status code.\n"
    .ascii "# TYPE asmkv_requests_total counter\n"
.equ m_requests_head_len, . - m_requests_head
m_requests_name: .ascii "asmkv_requests_total"
    .byte 0x7b
    .ascii "method=\""
.equ m_requests_name_len, . - m_requests_name
m_scrapes_head:
    .ascii "# HELP asmkv_scrapes_total Answers on the metrics socket, by status code (not in asmkv_requests_total).\n"
    .ascii "# TYPE asmkv_scrapes_total counter\n"
.equ m_scrapes_head_len, . - m_scrapes_head
m_scrapes_name: .ascii "asmkv_scrapes_total"
    .byte 0x7b
    .ascii "code=\""
.equ m_scrapes_name_len, . - m_scrapes_name
m_code: .ascii "\",code=\""
.equ m_code_len, . - m_code
m_close: .ascii "\""
    .byte 0x7d
.equ m_close_len, . - m_close
m_inf: .ascii "+Inf"
.equ m_inf_len, . - m_inf
m_in:
    .ascii "# HELP asmkv_received_bytes_total Bytes read from clients.\n"
    .ascii "# TYPE asmkv_received_bytes_total counter\n"
    .ascii "asmkv_received_bytes_total"
.equ m_in_len, . - m_in
m_out:
    .ascii "# HELP asmkv_sent_bytes_total Bytes sent to clients.\n"
    .ascii "# TYPE asmkv_sent_bytes_total counter\n"
    .ascii "asmkv_sent_bytes_total"
.equ m_out_len, . - m_out
m_open:
    .ascii "# HELP asmkv_open_connections Client connections open now.\n"
    .ascii "# TYPE asmkv_open_connections gauge\n"
    .ascii "asmkv_open_connections"
.equ m_open_len, . - m_open
m_keys:
    .ascii "# HELP asmkv_keys Keys that have a value.\n"
    .ascii "# TYPE asmkv_keys gauge\n"
    .ascii "asmkv_keys"
.equ m_keys_len, . - m_keys
m_nodes:
    .ascii "# HELP asmkv_index_nodes Keys the index has a node for: those with a value, and deleted ones whose tombstone is still on disk.\n"
    .ascii "# TYPE asmkv_index_nodes gauge\n"
    .ascii "asmkv_index_nodes"
.equ m_nodes_len, . - m_nodes
m_node_bytes:
    .ascii "# HELP asmkv_index_node_bytes Bytes of the index's node memory, in use or free for reuse (it grows only when no freed node fits).\n"
    .ascii "# TYPE asmkv_index_node_bytes gauge\n"
    .ascii "asmkv_index_node_bytes"
.equ m_node_bytes_len, . - m_node_bytes
m_nodes_freed:
    .ascii "# HELP asmkv_index_nodes_freed_total Index nodes of keys with nothing left on disk, given back for reuse.\n"
    .ascii "# TYPE asmkv_index_nodes_freed_total counter\n"
    .ascii "asmkv_index_nodes_freed_total"
.equ m_nodes_freed_len, . - m_nodes_freed
m_nodes_reused:
    .ascii "# HELP asmkv_index_nodes_reused_total Index nodes taken again from those given back.\n"
    .ascii "# TYPE asmkv_index_nodes_reused_total counter\n"
    .ascii "asmkv_index_nodes_reused_total"
.equ m_nodes_reused_len, . - m_nodes_reused
m_walk_max:
    .ascii "# HELP asmkv_index_walk_max The most index nodes one lookup has passed in its bucket before its key: a few at the table's load of 2 to 4 keys a bucket; far more means keys that collide.\n"
    .ascii "# TYPE asmkv_index_walk_max gauge\n"
    .ascii "asmkv_index_walk_max"
.equ m_walk_max_len, . - m_walk_max
m_damaged:
    .ascii "# HELP asmkv_damaged_records Damage found in the segments since they were last read in full: each span of bytes no record could be read in, and each record that failed its checksum (the error log says where).\n"
    .ascii "# TYPE asmkv_damaged_records gauge\n"
    .ascii "asmkv_damaged_records"
.equ m_damaged_len, . - m_damaged
m_damaged_bytes:
    .ascii "# HELP asmkv_damaged_bytes The bytes of that damage.\n"
    .ascii "# TYPE asmkv_damaged_bytes gauge\n"
    .ascii "asmkv_damaged_bytes"
.equ m_damaged_bytes_len, . - m_damaged_bytes
m_expired:
    .ascii "# HELP asmkv_expired_total Values past their X-Delete-At whose room compaction gave back (their keys had no other record on disk).\n"
    .ascii "# TYPE asmkv_expired_total counter\n"
    .ascii "asmkv_expired_total"
.equ m_expired_len, . - m_expired
m_scrubbed:
    .ascii "# HELP asmkv_scrub_bytes_total Bytes the scrubber has read from the sealed segments to check them (--scrub-rate).\n"
    .ascii "# TYPE asmkv_scrub_bytes_total counter\n"
    .ascii "asmkv_scrub_bytes_total"
.equ m_scrubbed_len, . - m_scrubbed
m_scrub_passes:
    .ascii "# HELP asmkv_scrub_passes_total Passes of the scrubber over every sealed segment, finished.\n"
    .ascii "# TYPE asmkv_scrub_passes_total counter\n"
    .ascii "asmkv_scrub_passes_total"
.equ m_scrub_passes_len, . - m_scrub_passes
m_scrub_pass_at:
    .ascii "# HELP asmkv_scrub_last_pass_timestamp_seconds When the scrubber's last full pass ended (Unix time; 0: none yet).\n"
    .ascii "# TYPE asmkv_scrub_last_pass_timestamp_seconds gauge\n"
    .ascii "asmkv_scrub_last_pass_timestamp_seconds"
.equ m_scrub_pass_at_len, . - m_scrub_pass_at
m_buckets:
    .ascii "# HELP asmkv_index_buckets Buckets of the index's table (it doubles as keys are added).\n"
    .ascii "# TYPE asmkv_index_buckets gauge\n"
    .ascii "asmkv_index_buckets"
.equ m_buckets_len, . - m_buckets
m_records:
    .ascii "# HELP asmkv_records Records in the segments: the newest of their key (live) or not (dead, until compacted).\n"
    .ascii "# TYPE asmkv_records gauge\n"
    .ascii "asmkv_records"
    .byte 0x7b
    .ascii "state=\"live\""
    .byte 0x7d
.equ m_records_len, . - m_records
m_records_dead:
    .ascii "asmkv_records"
    .byte 0x7b
    .ascii "state=\"dead\""
    .byte 0x7d
.equ m_records_dead_len, . - m_records_dead
m_bytes:
    .ascii "# HELP asmkv_record_bytes Bytes of the records in the segments: live or dead (until compacted), as asmkv_records.\n"
    .ascii "# TYPE asmkv_record_bytes gauge\n"
    .ascii "asmkv_record_bytes"
    .byte 0x7b
    .ascii "state=\"live\""
    .byte 0x7d
.equ m_bytes_len, . - m_bytes
m_bytes_dead:
    .ascii "asmkv_record_bytes"
    .byte 0x7b
    .ascii "state=\"dead\""
    .byte 0x7d
.equ m_bytes_dead_len, . - m_bytes_dead
m_restarts:
    .ascii "# HELP asmkv_restarts_total Processes started again after they died.\n"
    .ascii "# TYPE asmkv_restarts_total counter\n"
    .ascii "asmkv_restarts_total"
    .byte 0x7b
    .ascii "process=\"worker\""
    .byte 0x7d
.equ m_restarts_len, . - m_restarts
m_restarts_compactor:
    .ascii "asmkv_restarts_total"
    .byte 0x7b
    .ascii "process=\"compactor\""
    .byte 0x7d
.equ m_restarts_compactor_len, . - m_restarts_compactor
m_timeouts_head:
    .ascii "# HELP asmkv_timeouts_total Connections ended by a timeout, by what it waited for.\n"
    .ascii "# TYPE asmkv_timeouts_total counter\n"
.equ m_timeouts_head_len, . - m_timeouts_head
m_timeouts_name: .ascii "asmkv_timeouts_total"
    .byte 0x7b
    .ascii "kind=\""
.equ m_timeouts_name_len, . - m_timeouts_name
m_groups:
    .ascii "# HELP asmkv_group_commits_total Group commits: one fdatasync for the writes of a group.\n"
    .ascii "# TYPE asmkv_group_commits_total counter\n"
    .ascii "asmkv_group_commits_total"
.equ m_groups_len, . - m_groups
m_gsize_head:
    .ascii "# HELP asmkv_group_commit_writes Writes per group commit.\n"
    .ascii "# TYPE asmkv_group_commit_writes histogram\n"
.equ m_gsize_head_len, . - m_gsize_head
m_gsize_bucket: .ascii "asmkv_group_commit_writes_bucket"
    .byte 0x7b
    .ascii "le=\""
.equ m_gsize_bucket_len, . - m_gsize_bucket
m_gsize_sum: .ascii "asmkv_group_commit_writes_sum"
.equ m_gsize_sum_len, . - m_gsize_sum
m_gsize_count: .ascii "asmkv_group_commit_writes_count"
.equ m_gsize_count_len, . - m_gsize_count
m_flush_head:
    .ascii "# HELP asmkv_flush_seconds Time a group commit's flushes took.\n"
    .ascii "# TYPE asmkv_flush_seconds histogram\n"
.equ m_flush_head_len, . - m_flush_head
m_flush_bucket: .ascii "asmkv_flush_seconds_bucket"
    .byte 0x7b
    .ascii "le=\""
.equ m_flush_bucket_len, . - m_flush_bucket
m_flush_sum: .ascii "asmkv_flush_seconds_sum "
.equ m_flush_sum_len, . - m_flush_sum
m_flush_count: .ascii "asmkv_flush_seconds_count"
.equ m_flush_count_len, . - m_flush_count

.bss
.p2align 3
.globl w_stats
w_stats: .space 8                         # this child's block of counters
.text
