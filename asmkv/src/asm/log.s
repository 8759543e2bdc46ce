# log.s - the error log: one line per event on stderr,
#   2026-11-26T08:40:12Z asmkv[PID]: MESSAGE[: DETAIL][: ERRNO TEXT]
# each written by one write(2), so lines of several processes never mix.
# Events that may come by the thousand (storage errors, descriptors running
# out) are only counted where they happen - an atomic add, no system call -
# and reported once a second, with their count, by the worker's tick.
.text

# log_line: rdi = message, esi = its length, rdx = detail (NUL-terminated) or
# 0, ecx = errno (positive) or 0. Writes the line; a failed write is ignored
# (there is nowhere else to say it). Clobbers the caller-saved registers.
.globl log_line
log_line:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 512
    mov r12, rdi
    mov r13d, esi
    mov r14, rdx
    mov r15d, ecx
    mov edi, CLOCK_REALTIME
    lea rsi, [rsp + 480]
    mov eax, SYS_clock_gettime            # cannot fail with a valid clock and buffer
    syscall
    mov rdi, rsp
    mov rsi, qword ptr [rsp + 480]
    call format_iso
    lea rsi, [rip + log_prefix]           # " asmkv["
    mov rdi, rax
    mov edx, OFFSET log_prefix_len
    call copy
    mov rbx, rax
    mov eax, SYS_getpid
    syscall
    mov rdi, rbx
    mov esi, eax
    call fmt_u64
    mov dword ptr [rax], 0x203a5d         # "]: "
    lea rdi, [rax + 3]
    mov rsi, r12
    mov edx, r13d
    call copy
    mov rdi, rax
    test r14, r14
    jz 2f
    mov word ptr [rdi], 0x203a            # ": "
    add rdi, 2
    lea r8, [rsp + 400]                   # a long detail is cut, leaving room for the rest
1:  movzx eax, byte ptr [r14]
    test al, al
    jz 2f
    cmp rdi, r8
    jae 2f
    mov byte ptr [rdi], al
    inc rdi
    inc r14
    jmp 1b
2:  test r15d, r15d
    jz 3f
    mov word ptr [rdi], 0x203a
    add rdi, 2
    mov rbx, rdi
    mov edi, r15d
    call errno_text
    mov rdi, rbx
    mov rsi, rax
    call copy
    mov rdi, rax
3:  mov byte ptr [rdi], LF
    inc rdi
    mov rdx, rdi
    sub rdx, rsp
    mov rsi, rsp
    mov edi, STDERR
    call write_all
    add rsp, 512
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# format_iso: rdi = destination (ISO_LEN bytes), rsi = Unix seconds.
# Writes "YYYY-MM-DDTHH:MM:SSZ" (UTC). Returns rax = its end.
# Clobbers the caller-saved registers.
format_iso:
    push rbx
    sub rsp, 32
    mov rbx, rdi
    mov rdi, rsp
    call format_date                      # "Sun, 06 Nov 1994 08:49:37 GMT"
    mov eax, dword ptr [rsp + 12]         # the year
    mov dword ptr [rbx], eax
    mov byte ptr [rbx + 4], '-'
    mov eax, dword ptr [rsp + 7]          # " Nov": its number
    lea rcx, [rip + month_names]
    xor edx, edx
1:  cmp eax, dword ptr [rcx + rdx*4]
    je 2f
    inc edx
    cmp edx, 11
    jb 1b
2:  inc edx
    mov eax, edx
    xor edx, edx
    mov ecx, 10
    div ecx
    add al, '0'
    add dl, '0'
    mov byte ptr [rbx + 5], al
    mov byte ptr [rbx + 6], dl
    mov byte ptr [rbx + 7], '-'
    movzx eax, word ptr [rsp + 5]         # the day
    mov word ptr [rbx + 8], ax
    mov byte ptr [rbx + 10], 'T'
    mov rax, qword ptr [rsp + 17]         # "08:49:37"
    mov qword ptr [rbx + 11], rax
    mov byte ptr [rbx + 19], 'Z'
    lea rax, [rbx + ISO_LEN]
    add rsp, 32
    pop rbx
    ret

# log_counted: (worker, every tick) reports the events counted since the last
# report, one line a kind: "N MESSAGE: ERRNO TEXT of the last".
# Clobbers the caller-saved registers.
.globl log_counted
log_counted:
    push rbx
    push r12
    push r13
    sub rsp, 144                          # the line's message
    xor ebx, ebx
1:  lea rax, [rip + w_errs]
    xor r12d, r12d
    xchg r12, qword ptr [rax + rbx*8]     # taken and cleared at once (the flusher counts too)
    test r12, r12
    jz 2f
    mov rdi, rsp
    mov rsi, r12
    call fmt_u64
    mov byte ptr [rax], SPACE
    lea r13, [rax + 1]
    lea rax, [rip + log_counted_msgs]
    mov rdi, qword ptr [rax + rbx*8]
    call cstr_len
    mov rdx, rax
    lea rax, [rip + log_counted_msgs]
    mov rsi, qword ptr [rax + rbx*8]
    mov rdi, r13
    call copy
    mov rdi, rsp
    mov rsi, rax
    sub rsi, rsp
    xor edx, edx
    lea rax, [rip + w_errno_last]
    mov ecx, dword ptr [rax + rbx*4]
    call log_line
2:  inc ebx
    cmp ebx, LOG_KINDS
    jb 1b
    add rsp, 144
    pop r13
    pop r12
    pop rbx
    ret

# log_count: edi = LOG_* kind, esi = errno (positive) or 0. Counts an event
# for the next report. Safe in every thread of a worker. Clobbers nothing.
# log_count_n: the same, rdx = how many events.
.globl log_count, log_count_n
log_count:
    push rax
    push rcx
    mov eax, edi
    lea rcx, [rip + w_errs]
    lock inc qword ptr [rcx + rax*8]
    jmp 1f
log_count_n:
    push rax
    push rcx
    mov eax, edi
    lea rcx, [rip + w_errs]
    lock add qword ptr [rcx + rax*8], rdx
1:
    lea rcx, [rip + w_errno_last]
    mov dword ptr [rcx + rax*4], esi
    pop rcx
    pop rax
    ret

.section .rodata
log_prefix: .ascii " asmkv["
.equ log_prefix_len, . - log_prefix
.p2align 3
log_counted_msgs:                         # by LOG_* kind
    .quad msg_errs_500, msg_errs_507, msg_errs_503, msg_corrupt, msg_shed, msg_alog
    .quad msg_alog_behind
msg_errs_500: .asciz "storage errors answered 500 in the last second; the last"
msg_errs_507: .asciz "writes refused with 507 (disk or quota full) in the last second"
msg_errs_503: .asciz "requests refused with 503 (out of descriptors or memory) in the last second"
msg_corrupt:  .asciz "records that failed their checksum when read (500) in the last second"
msg_shed:     .asciz "connections closed at once for want of descriptors in the last second"
msg_alog:     .asciz "access log lines that could not be written (dropped) in the last second"
msg_alog_behind: .asciz "access log lines dropped in the last second: the log's writer is behind (a slow or stalled disk)"

.bss
.p2align 3
w_errs:       .space 8 * LOG_KINDS       # events counted since the last report
w_errno_last: .space 4 * LOG_KINDS       # the errno of the last of them
.text
