# cli.s - the command line: flags into the cfg_* globals, --help, --version.
.text

# parse_args: edi = argc, rsi = argv. Fills cfg_*; prints and exits for --help
# and --version; calls fatal (exit 2) on anything it does not understand.
# Clobbers the caller-saved registers.
.globl parse_args
parse_args:
    push rbx
    push r12
    push r13
    push r14
    push rdi                            # [rsp] = argc
    mov r12, rsi
    mov ebx, 1                          # argv[0] is our own name
.Largs_next:
    cmp ebx, dword ptr [rsp]
    jge .Largs_done
    lea r13, [rip + flag_table]
1:  mov rsi, qword ptr [r13]
    test rsi, rsi
    jz .Largs_unknown
    mov rdi, qword ptr [r12 + rbx*8]
    call streq
    test eax, eax
    jnz 2f
    add r13, FLAG_ENTRY
    jmp 1b
2:  cmp qword ptr [r13 + 16], 0           # does it take a value?
    je 3f
    lea eax, [rbx + 1]
    cmp eax, dword ptr [rsp]
    jge .Largs_missing
3:  jmp qword ptr [r13 + 8]

.Largs_listen:
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    call parse_listen
    test eax, eax
    jnz .Largs_bad_listen
    jmp .Largs_step2

.Largs_data:
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    cmp byte ptr [rdi], 0
    je .Largs_bad_value
    mov qword ptr [rip + cfg_data], rdi
    jmp .Largs_step2

.Largs_workers:
    lea r13, [rip + cfg_workers]
    mov r14d, MAX_WORKERS
    jmp .Largs_count

.Largs_sync:
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    lea rsi, [rip + word_always]
    call streq
    test eax, eax
    jnz 1f
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    lea rsi, [rip + word_none]
    call streq
    test eax, eax
    jz .Largs_bad_value
    mov dword ptr [rip + cfg_sync], 0
    jmp .Largs_step2
1:  mov dword ptr [rip + cfg_sync], 1
    jmp .Largs_step2

.Largs_max_body:
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    call parse_cstr_u64
    test edx, edx
    jnz .Largs_bad_value
    mov rcx, MAX_BODY_LIMIT
    cmp rax, rcx
    ja .Largs_bad_value
    mov qword ptr [rip + cfg_max_body], rax
    # fall through

.Largs_step2:
    add ebx, 2
    jmp .Largs_next

.Largs_scrub_rate:                       # MiB/s, 0 (no scrubbing) included
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    call parse_cstr_u64
    test edx, edx
    jnz .Largs_bad_value
    cmp rax, MAX_SCRUB_RATE
    ja .Largs_bad_value
    mov qword ptr [rip + cfg_scrub_rate], rax
    jmp .Largs_step2

.Largs_idle_timeout:
    lea r13, [rip + cfg_idle_timeout]
    mov r14d, MAX_TIMEOUT
    jmp .Largs_count
.Largs_request_timeout:
    lea r13, [rip + cfg_request_timeout]
    mov r14d, MAX_TIMEOUT
    jmp .Largs_count
.Largs_metrics:
    # parse_listen fills the listening address: parse it there, between two
    # swaps with the metrics address
    call swap_listen_metrics
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    call parse_listen
    push rax
    push rax
    call swap_listen_metrics
    pop rax
    pop rax
    test eax, eax
    jnz .Largs_bad_metrics
    mov dword ptr [rip + cfg_metrics + CM_GIVEN], 1
    jmp .Largs_step2

.Largs_access_log:
    lea r13, [rip + cfg_access_log]
    jmp 1f
.Largs_token_file:
    lea r13, [rip + cfg_token_file]
    jmp 1f
.Largs_read_token_file:
    lea r13, [rip + cfg_read_token_file]
1:  mov rdi, qword ptr [r12 + rbx*8 + 8]
    cmp byte ptr [rdi], 0
    je .Largs_bad_value
    mov qword ptr [r13], rdi
    jmp .Largs_step2

.Largs_io_timeout:
    lea r13, [rip + cfg_io_timeout]
    mov r14d, MAX_TIMEOUT
.Largs_count:                            # a number 1..r14 into the quadword at r13
    mov rdi, qword ptr [r12 + rbx*8 + 8]
    call parse_cstr_u64
    test edx, edx
    jnz .Largs_bad_value
    test rax, rax
    jz .Largs_bad_value
    cmp rax, r14
    ja .Largs_bad_value
    mov qword ptr [r13], rax
    jmp .Largs_step2

.Largs_done:
    pop rdi
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

.Largs_help:
    mov edi, STDOUT
    lea rsi, [rip + usage_text]
    mov edx, OFFSET usage_len
    call write_all
    xor edi, edi
    mov eax, SYS_exit_group
    syscall

.Largs_version:
    mov edi, STDOUT
    lea rsi, [rip + version_text]
    mov edx, OFFSET version_len
    call write_all
    xor edi, edi
    mov eax, SYS_exit_group
    syscall

.Largs_missing:
    lea rdi, [rip + err_missing]
    mov esi, OFFSET err_missing_len
    mov rdx, qword ptr [r12 + rbx*8]
    xor ecx, ecx
    call fatal

.Largs_bad_value:
    lea rdi, [rip + err_bad_value]
    mov esi, OFFSET err_bad_value_len
    mov rdx, qword ptr [r12 + rbx*8]
    xor ecx, ecx
    call fatal

.Largs_bad_metrics:
    lea rdi, [rip + err_bad_metrics]
    mov esi, OFFSET err_bad_metrics_len
    mov rdx, qword ptr [r12 + rbx*8 + 8]
    xor ecx, ecx
    call fatal

.Largs_bad_listen:
    lea rdi, [rip + err_bad_listen]
    mov esi, OFFSET err_bad_listen_len
    mov rdx, qword ptr [r12 + rbx*8 + 8]
    xor ecx, ecx
    call fatal

.Largs_unknown:
    lea rdi, [rip + err_unknown]
    mov esi, OFFSET err_unknown_len
    mov rdx, qword ptr [r12 + rbx*8]
    xor ecx, ecx
    call fatal

# swap_listen_metrics: exchanges the listening address (cfg_family, cfg_addr,
# cfg_addr6 and its text, cfg_port) with the metrics address (cfg_metrics),
# so what reads or writes the one can be used for the other.
# Clobbers rax, rcx, rdx.
.globl swap_listen_metrics
swap_listen_metrics:
    lea rcx, [rip + cfg_metrics]
    mov rax, qword ptr [rip + cfg_addr6]
    xchg rax, qword ptr [rcx + CM_ADDR6]
    mov qword ptr [rip + cfg_addr6], rax
    mov rax, qword ptr [rip + cfg_addr6 + 8]
    xchg rax, qword ptr [rcx + CM_ADDR6 + 8]
    mov qword ptr [rip + cfg_addr6 + 8], rax
    mov rax, qword ptr [rip + cfg_addr6_text]
    xchg rax, qword ptr [rcx + CM_TEXT]
    mov qword ptr [rip + cfg_addr6_text], rax
    mov rax, qword ptr [rip + cfg_addr6_len]
    xchg rax, qword ptr [rcx + CM_TEXT_LEN]
    mov qword ptr [rip + cfg_addr6_len], rax
    mov eax, dword ptr [rip + cfg_addr]
    xchg eax, dword ptr [rcx + CM_ADDR]
    mov dword ptr [rip + cfg_addr], eax
    movzx eax, word ptr [rip + cfg_family]
    movzx edx, word ptr [rcx + CM_FAMILY]
    mov word ptr [rcx + CM_FAMILY], ax
    mov word ptr [rip + cfg_family], dx
    movzx eax, word ptr [rip + cfg_port]
    movzx edx, word ptr [rcx + CM_PORT]
    mov word ptr [rcx + CM_PORT], ax
    mov word ptr [rip + cfg_port], dx
    ret

# parse_listen: rdi = "A.B.C.D:PORT", "localhost:PORT" or "[IPV6]:PORT"
# (NUL-terminated). On success stores cfg_family, cfg_addr (or cfg_addr6 and
# its text) and cfg_port and returns eax = 0; else eax = 1 and the config is
# unchanged. Clobbers rcx, rdx, rsi, rdi, r8-r11.
parse_listen:
    cmp byte ptr [rdi], '['
    je parse_listen6
    push rdi
    lea rsi, [rip + word_localhost]
    mov edx, OFFSET word_localhost_len
    call ci_eq                # stops at the first difference: no over-read
    pop rdi
    test eax, eax
    jz 1f
    add rdi, OFFSET word_localhost_len
    mov r10d, LOOPBACK_ADDR   # the name is fixed: no resolver, no /etc/hosts
    jmp .Lpl_port
1:  xor r9d, r9d              # octet index
    xor r10d, r10d            # address bytes, first octet lowest (network order in memory)
.Lpl_octet:
    xor eax, eax              # octet value
    xor ecx, ecx              # digits seen
1:  movzx edx, byte ptr [rdi]
    sub edx, '0'
    cmp edx, 9
    ja 2f
    imul eax, eax, 10
    add eax, edx
    inc rdi
    inc ecx
    cmp ecx, 3
    ja .Lpl_bad
    jmp 1b
2:  test ecx, ecx
    jz .Lpl_bad
    cmp eax, 255
    ja .Lpl_bad
    lea ecx, [r9*8]
    shl eax, cl
    or r10d, eax
    movzx edx, byte ptr [rdi]
    inc rdi
    inc r9d
    cmp r9d, 4
    je 3f
    cmp edx, '.'
    jne .Lpl_bad
    jmp .Lpl_octet
3:  cmp edx, ':'
    jne .Lpl_bad
.Lpl_port:
    call parse_cstr_u64
    test edx, edx
    jnz .Lpl_bad
    cmp rax, 65535
    ja .Lpl_bad
    mov word ptr [rip + cfg_port], ax
    mov dword ptr [rip + cfg_addr], r10d
    mov word ptr [rip + cfg_family], AF_INET
    xor eax, eax
    ret
.Lpl_bad:
    mov eax, 1
    ret

# parse_listen6: rdi = "[IPV6]:PORT" (NUL-terminated), the address in the
# RFC 4291 text form: up to 8 groups of 1-4 hex digits, one "::" at most for
# a run of zero groups (no embedded IPv4 form, no zone). Results and
# clobbers as parse_listen.
parse_listen6:
    push rbx
    push r12
    push r13
    sub rsp, 32                           # [rsp] the groups as parsed, [rsp+16] the address
    inc rdi                               # past "["
    mov r12, rdi                          # the text, for messages
    xor r8d, r8d                          # groups parsed
    mov r9d, -1                           # where "::" stood, or -1
    cmp byte ptr [rdi], ':'               # "::" first
    jne .Lp6_group
    cmp byte ptr [rdi + 1], ':'
    jne .Lp6_bad
    xor r9d, r9d
    add rdi, 2
    cmp byte ptr [rdi], ']'
    je .Lp6_end
.Lp6_group:
    cmp r8d, 8
    jae .Lp6_bad
    xor ebx, ebx                          # the group's value
    xor ecx, ecx                          # its digits
1:  movzx r13d, byte ptr [rdi]
    mov r11, rdi                          # hex_val keeps every other register
    mov edi, r13d
    call hex_val
    mov rdi, r11
    test eax, eax
    js 2f
    shl ebx, 4
    or ebx, eax
    inc rdi
    inc ecx
    cmp ecx, 4
    ja .Lp6_bad
    jmp 1b
2:  test ecx, ecx
    jz .Lp6_bad
    mov word ptr [rsp + r8*2], bx
    inc r8d
    cmp r13d, ']'
    je .Lp6_end
    cmp r13d, ':'
    jne .Lp6_bad
    inc rdi
    cmp byte ptr [rdi], ':'
    jne .Lp6_group
    test r9d, r9d                         # a second "::"
    jns .Lp6_bad
    mov r9d, r8d
    inc rdi
    cmp byte ptr [rdi], ']'
    jne .Lp6_group
.Lp6_end:                                 # rdi at "]"
    mov rax, rdi
    sub rax, r12
    cmp rax, IPV6_TEXT_MAX
    ja .Lp6_bad
    mov r13, rax                          # text length
    test r9d, r9d
    jns 3f
    cmp r8d, 8                            # no "::": all 8 groups given
    jne .Lp6_bad
    mov r9d, 8                            # so every group stays in place
    jmp 4f
3:  cmp r8d, 7                            # "::" stands for one group or more
    ja .Lp6_bad
    # groups before "::" stay, those after it move to the end, zeros between
4:  xor eax, eax
    mov qword ptr [rsp + 16], rax
    mov qword ptr [rsp + 24], rax
    xor ecx, ecx
6:  cmp ecx, r8d
    jae 8f
    movzx eax, word ptr [rsp + rcx*2]
    xchg al, ah                           # network order
    mov edx, ecx
    cmp ecx, r9d
    jb 7f
    add edx, 8
    sub edx, r8d
7:  mov word ptr [rsp + rdx*2 + 16], ax
    inc ecx
    jmp 6b
8:  cmp byte ptr [rdi + 1], ':'
    jne .Lp6_bad
    add rdi, 2
    call parse_cstr_u64
    test edx, edx
    jnz .Lp6_bad
    cmp rax, 65535
    ja .Lp6_bad
    mov word ptr [rip + cfg_port], ax
    mov rax, qword ptr [rsp + 16]
    mov qword ptr [rip + cfg_addr6], rax
    mov rax, qword ptr [rsp + 24]
    mov qword ptr [rip + cfg_addr6 + 8], rax
    mov qword ptr [rip + cfg_addr6_text], r12
    mov qword ptr [rip + cfg_addr6_len], r13
    mov word ptr [rip + cfg_family], AF_INET6
    xor eax, eax
    jmp 9f
.Lp6_bad:
    mov eax, 1
9:  add rsp, 32
    pop r13
    pop r12
    pop rbx
    ret

.data
.p2align 3
.globl cfg_data, cfg_max_body, cfg_addr, cfg_port, cfg_workers, cfg_sync
.globl cfg_family, cfg_addr6, cfg_addr6_text, cfg_addr6_len
.globl cfg_idle_timeout, cfg_request_timeout, cfg_io_timeout, cfg_scrub_rate
.globl cfg_token_file, cfg_read_token_file, cfg_metrics, cfg_access_log
cfg_data:     .quad default_data     # data directory path
cfg_max_body: .quad DEFAULT_MAX_BODY # largest accepted value, bytes
cfg_idle_timeout:    .quad DEFAULT_IDLE_TIMEOUT    # seconds a connection may wait between requests
cfg_request_timeout: .quad DEFAULT_REQUEST_TIMEOUT # seconds from a head's first byte to its end
cfg_io_timeout:      .quad DEFAULT_IO_TIMEOUT      # seconds a body or an answer may stall
cfg_scrub_rate:      .quad DEFAULT_SCRUB_RATE      # MiB/s the scrubber reads, 0: no scrubbing
cfg_metrics:  .space CM_SIZE         # --metrics: the address, as the listening one's
cfg_access_log:      .quad 0        # --access-log path ("-": stdout), or 0
cfg_token_file:      .quad 0        # --token-file path, or 0
cfg_read_token_file: .quad 0        # --read-token-file path, or 0
cfg_workers:  .quad 0                # 0: one per CPU we may run on (read as a dword)
cfg_addr:     .long DEFAULT_ADDR     # IPv4 address, network order
.p2align 3
cfg_addr6_text: .quad 0              # the IPv6 address as given (not NUL-terminated)
cfg_addr6_len:  .quad 0
cfg_addr6:    .space 16              # IPv6 address, network order
cfg_family:   .short AF_INET         # AF_INET or AF_INET6
cfg_sync:     .long 1                # 1: flush before acknowledging writes
cfg_port:     .short DEFAULT_PORT    # host order

.section .rodata
.p2align 3
flag_table:                         # name, handler, takes a value; ends with 0
    .quad flag_help, .Largs_help, 0
    .quad flag_version, .Largs_version, 0
    .quad flag_listen, .Largs_listen, 1
    .quad flag_data, .Largs_data, 1
    .quad flag_workers, .Largs_workers, 1
    .quad flag_sync, .Largs_sync, 1
    .quad flag_max_body, .Largs_max_body, 1
    .quad flag_idle_timeout, .Largs_idle_timeout, 1
    .quad flag_request_timeout, .Largs_request_timeout, 1
    .quad flag_io_timeout, .Largs_io_timeout, 1
    .quad flag_token_file, .Largs_token_file, 1
    .quad flag_metrics, .Largs_metrics, 1
    .quad flag_access_log, .Largs_access_log, 1
    .quad flag_read_token_file, .Largs_read_token_file, 1
    .quad flag_scrub_rate, .Largs_scrub_rate, 1
    .quad 0
default_data:  .asciz "./data"
flag_help:     .asciz "--help"
flag_version:  .asciz "--version"
flag_listen:   .asciz "--listen"
flag_data:     .asciz "--data"
flag_workers:  .asciz "--workers"
flag_sync:     .asciz "--sync"
flag_scrub_rate: .asciz "--scrub-rate"
flag_max_body: .asciz "--max-body"
flag_idle_timeout:    .asciz "--idle-timeout"
flag_request_timeout: .asciz "--request-timeout"
flag_io_timeout:      .asciz "--io-timeout"
flag_token_file:      .asciz "--token-file"
flag_metrics:         .asciz "--metrics"
flag_access_log:      .asciz "--access-log"
err_bad_metrics: .ascii "bad value for flag --metrics (want A.B.C.D:PORT, [IPV6]:PORT or localhost:PORT)"
.equ err_bad_metrics_len, . - err_bad_metrics
flag_read_token_file: .asciz "--read-token-file"
word_always:   .asciz "always"
word_none:     .asciz "none"
err_missing:   .ascii "missing value for flag"
.equ err_missing_len, . - err_missing
err_bad_value: .ascii "bad value for flag"
.equ err_bad_value_len, . - err_bad_value
err_bad_listen: .ascii "bad value for flag --listen (want A.B.C.D:PORT, [IPV6]:PORT or localhost:PORT)"
.equ err_bad_listen_len, . - err_bad_listen
word_localhost: .ascii "localhost:"
.equ word_localhost_len, . - word_localhost
err_unknown:   .ascii "unknown argument"
.equ err_unknown_len, . - err_unknown
version_text:  .ascii "asmkv 0.1.0\n"
.equ version_len, . - version_text
usage_text:
    .ascii "usage: asmkv [--listen ADDR:PORT] [--data DIR] [--workers N] [--sync always|none]\n"
    .ascii "             [--max-body BYTES] [--idle-timeout S] [--request-timeout S]\n"
    .ascii "             [--io-timeout S] [--token-file PATH] [--read-token-file PATH]\n"
    .ascii "             [--metrics ADDR:PORT] [--access-log PATH] [--scrub-rate MIB]\n"
    .ascii "             [--help] [--version]\n\n"
    .ascii "A durable HTTP/1.1 key-value store: GET, HEAD, PUT, POST and DELETE /KEY.\n\n"
    .ascii "  --listen ADDR:PORT   A.B.C.D:PORT, [IPV6]:PORT or localhost:PORT (default 127.0.0.1:8080;\n                       port 0 picks a free one)\n"
    .ascii "  --data DIR           the segments of values live here (default ./data, created if missing)\n"
    .ascii "  --workers N          worker processes, 1-256 (default: the CPUs this process may use)\n"
    .ascii "  --sync always|none   always: a write is flushed to disk before it is acknowledged (default)\n"
    .ascii "                       none: the kernel flushes when it likes (faster, loses recent writes on power loss)\n"
    .ascii "  --max-body BYTES     largest value accepted (default 1073741824)\n"
    .ascii "  --idle-timeout S     close a connection idle between requests for S seconds (default 60)\n"
    .ascii "  --request-timeout S  answer 408 and close if a request head takes over S seconds (default 10)\n"
    .ascii "  --io-timeout S       answer 408 (upload) or close (download) after S seconds without progress (default 30)\n"
    .ascii "  --token-file PATH    PUT, POST and DELETE need Authorization: Bearer TOKEN, TOKEN a line of PATH\n"
    .ascii "  --read-token-file PATH  so do GET and HEAD, with a token of either file (default: reads are open)\n"
    .ascii "  --metrics ADDR:PORT  serve GET /metrics (Prometheus text) on this second address\n"
    .ascii "  --access-log PATH    a line per answer (combined format, then microseconds and worker);\n"
    .ascii "                       - for stdout; SIGUSR1 reopens it\n"
    .ascii "  --scrub-rate MIB     read every sealed segment again, checking its records, at MIB MiB/s\n"
    .ascii "                       in the background (default 8; 0: never)\n"
    .ascii "  --help, --version    print this text or the version, and exit\n"
.equ usage_len, . - usage_text
.text
