# alog.s - the access log (--access-log PATH, "-" for stdout): one line per
# answer, nginx's "combined" format and two more fields:
#   ADDR - - [26/Nov/2026:08:45:00 +0000] "GET /k HTTP/1.1" 200 5 "REFERER" "USER-AGENT" US WORKER
# US: microseconds from the request's first byte to its answer's last;
# WORKER: the worker's slot. Bytes outside printable ASCII, quotes and
# backslashes in the request line, Referer and User-Agent are written \xHH,
# as nginx does; the Authorization field is never logged.
#
# What a line needs is kept per connection in a table (LG_*) reserved only
# when the log is on. Lines gather in one of the worker's two buffers; once it
# is ALOG_FLUSH full, and on every tick, it goes to the worker's log writer,
# a thread of its own that does the write(2) - one for many lines - while the
# event loop fills the other buffer. The event loop never waits for it: if
# the writer still has the other buffer when this one is full (a slow or
# stalled disk), lines are dropped and counted for the error log; so are the
# lines of a write that fails (a full disk). Serving goes on either way.
# SIGUSR1 (to the master, which reopens its own copy and passes it on)
# reopens the file, the logrotate convention: the new file takes the old
# one's descriptor number (dup3), so the writer never sees a closed one.
# Time is read once per round of the event loop.
.text

# alog_open: (master, at startup) opens --access-log, if given.
# Exits 2 with one clear line if it cannot. Clobbers the caller-saved registers.
.globl alog_open
alog_open:
    mov rdi, qword ptr [rip + cfg_access_log]
    test rdi, rdi
    jz 2f
    cmp word ptr [rdi], 0x2d              # "-": stdout
    jne 1f
    mov dword ptr [rip + alog_fd], STDOUT
    jmp alog_kind
1:  sub rsp, 8
    call alog_open_file
    test rax, rax
    js 3f
    mov dword ptr [rip + alog_fd], eax
    add rsp, 8
    jmp alog_kind
2:  ret
3:  lea rdi, [rip + err_alog]
    mov esi, OFFSET err_alog_len
    mov rdx, qword ptr [rip + cfg_access_log]
    mov ecx, eax
    neg ecx
    call fatal

# alog_kind: looks at what alog_fd is: anything but a regular file (a pipe,
# a socket, a terminal) is written in pieces of at most PIPE_BUF bytes that end
# at a line's end, so the lines of several workers never mix (alog_pipe).
# Clobbers the caller-saved registers.
alog_kind:
    mov edi, dword ptr [rip + alog_fd]
    lea rsi, [rip + alog_stat]
    mov eax, SYS_fstat
    syscall
    mov ecx, 1                            # unknown: the careful way
    test rax, rax
    js 1f
    mov eax, dword ptr [rip + alog_stat + ST_MODE]
    and eax, S_IFMT
    cmp eax, S_IFREG
    setne cl
1:  mov byte ptr [rip + alog_pipe], cl
    ret

# alog_write: rsi = lines, rdx = their length. Writes them to the log: at
# once to a file (O_APPEND: one write, never mixed with another's), in pieces
# of whole lines of at most PIPE_BUF bytes to anything else.
# Returns rax = 0 or -errno. Clobbers the caller-saved registers.
alog_write:
    cmp byte ptr [rip + alog_pipe], 0
    jne 1f
    mov edi, dword ptr [rip + alog_fd]
    jmp write_all
1:  push rbx
    push r12
    sub rsp, 8
    mov rbx, rsi                          # what is left
    lea r12, [rsi + rdx]                  # its end
2:  mov rdx, r12
    sub rdx, rbx
    jz 5f
    cmp rdx, PIPE_BUF
    jbe 4f
    mov edx, PIPE_BUF                     # the piece ends after its last LF
3:  cmp byte ptr [rbx + rdx - 1], LF
    je 4f
    dec edx
    jnz 3b
    mov edx, PIPE_BUF                     # (no LF: cannot happen, lines are shorter)
4:  mov edi, dword ptr [rip + alog_fd]
    mov rsi, rbx
    add rbx, rdx
    call write_all
    test rax, rax
    jns 2b
    jmp 6f
5:  xor eax, eax
6:  add rsp, 8
    pop r12
    pop rbx
    ret

# alog_open_file: opens the access log's path for appending (created if
# missing). Returns rax = the descriptor, or -errno. Clobbers the caller-saved registers.
alog_open_file:
    mov edi, AT_FDCWD
    mov rsi, qword ptr [rip + cfg_access_log]
    mov edx, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
    mov r10d, 0640
    mov eax, SYS_openat
    syscall
    ret

# alog_init: (worker, at start) if the log is on: reserves the per-connection
# table and starts the log writer thread. Returns rax = 0 or -errno.
# Clobbers the caller-saved registers.
.globl alog_init
alog_init:
    xor eax, eax
    cmp dword ptr [rip + alog_fd], 0
    jl 2f
    sub rsp, 8
    mov rdi, MAX_FDS * LG_SLOT
    call reserve_memory
    cmp rax, -4096
    ja 1f
    mov qword ptr [rip + w_lgtab], rax
    lea rax, [rip + w_alog]
    mov qword ptr [rip + w_alog_cur], rax
    lea rdi, [rip + alog_writer]
    lea rsi, [rip + alog_stack_top]
    call thread_start
    test rax, rax
    js 1f
    call alog_tick
    xor eax, eax
1:  add rsp, 8
2:  ret

# alog_writer: the log writer thread; never returns. Waits for a buffer
# (w_alog_busy 1), writes it, counts its lines as dropped if that fails,
# and gives it back (w_alog_busy 0, and a wake for a stopping worker).
# Touches nothing else of the worker's but the error counts (log_count_n).
alog_writer:
1:  cmp dword ptr [rip + w_alog_busy], 0
    jne 2f
    lea rdi, [rip + w_alog_busy]
    mov esi, FUTEX_WAIT_PRIVATE
    xor edx, edx                          # asleep only while it is still 0
    xor r10d, r10d
    mov eax, SYS_futex
    syscall                               # EINTR, EAGAIN: look again
    jmp 1b
2:  mov rdx, qword ptr [rip + w_alog_out_len]
    test rdx, rdx
    jz 3f                                 # only a reopen
    mov rsi, qword ptr [rip + w_alog_out]
    call alog_write                       # may block: only this thread waits
    test rax, rax
    jns 3f
    mov edi, LOG_ALOG
    mov esi, eax
    neg esi
    mov rdx, qword ptr [rip + w_alog_out_lines]
    call log_count_n
3:  cmp dword ptr [rip + w_alog_out_reopen], 0
    je 4f
    call alog_reopen_now                  # after the lines before the signal
4:  mov dword ptr [rip + w_alog_busy], 0  # (a plain store: after the write's loads)
    lea rdi, [rip + w_alog_busy]
    mov esi, FUTEX_WAKE_PRIVATE
    mov edx, 1
    mov eax, SYS_futex
    syscall
    jmp 1b

# alog_reopen: (master and worker, on SIGUSR1) opens the path again (the
# file may have been renamed away). A worker's lines so far must end in the
# old file, so its log writer does it, after writing them: the request goes
# with the buffer being filled (at once, or at the next tick if the writer is
# busy). Clobbers the caller-saved registers.
.globl alog_reopen
alog_reopen:
    cmp dword ptr [rip + alog_fd], STDOUT
    jle 1f                                # off, or stdout: nothing to reopen
    cmp qword ptr [rip + w_lgtab], 0
    je alog_reopen_now                    # the master: it writes no lines
    mov dword ptr [rip + w_alog_reopen], 1
    jmp alog_handoff
1:  ret

# alog_reopen_now: opens the path again and puts it in place of the old file
# under the same descriptor number (dup3), so no thread ever sees it closed.
# If the open fails the old file stays, and the error log says so.
# Clobbers the caller-saved registers.
alog_reopen_now:
    sub rsp, 8
    call alog_open_file
    test rax, rax
    js 2f
    push rax
    mov edi, eax
    mov esi, dword ptr [rip + alog_fd]
    mov edx, O_CLOEXEC
    mov eax, SYS_dup3                     # closes the old file's descriptor atomically
    syscall
    pop rdi
    mov eax, SYS_close
    syscall
    add rsp, 8
    jmp alog_kind
2:  lea rdi, [rip + err_alog_reopen]
    mov esi, OFFSET err_alog_reopen_len
    mov rdx, qword ptr [rip + cfg_access_log]
    mov ecx, eax
    neg ecx
    call log_line
    add rsp, 8
    ret

# alog_now: (worker) every round of the event loop, with the log on: the
# monotonic time in µs, for the lines' durations. Clobbers the caller-saved registers.
.globl alog_now
alog_now:
    cmp qword ptr [rip + w_lgtab], 0
    je 1f
    sub rsp, 24
    mov edi, CLOCK_MONOTONIC
    mov rsi, rsp
    call clock_now                        # cannot fail with a valid clock and buffer
    imul rax, qword ptr [rsp], 1000000
    mov rcx, qword ptr [rsp + 8]
    imul rcx, rcx, 274877907              # ns / 1000, without a division:
    shr rcx, 38                           # (n * 2^38 / 1000) >> 38, exact below 2^32
    add rax, rcx
    mov qword ptr [rip + w_now_us], rax
    add rsp, 24
1:  ret

# alog_tick: (worker, every second) the date of the lines, and a flush.
# Clobbers the caller-saved registers.
.globl alog_tick
alog_tick:
    cmp qword ptr [rip + w_lgtab], 0
    je 1f
    sub rsp, 40
    mov rdi, rsp
    mov rsi, qword ptr [rip + w_unix]
    call format_date                      # "Sun, 06 Nov 1994 08:49:37 GMT"
    lea rdi, [rip + w_alog_date]          # "06/Nov/1994:08:49:37 +0000"
    movzx eax, word ptr [rsp + 5]
    mov word ptr [rdi], ax
    mov byte ptr [rdi + 2], '/'
    mov eax, dword ptr [rsp + 8]          # "Nov " (then overwritten)
    mov dword ptr [rdi + 3], eax
    mov byte ptr [rdi + 6], '/'
    mov eax, dword ptr [rsp + 12]
    mov dword ptr [rdi + 7], eax
    mov byte ptr [rdi + 11], ':'
    mov rax, qword ptr [rsp + 17]
    mov qword ptr [rdi + 12], rax
    mov dword ptr [rdi + 20], 0x30302b20  # " +00"
    mov word ptr [rdi + 24], 0x3030       # "00"
    add rsp, 40
    call alog_handoff
1:  ret

# alog_handoff: (worker) gives the buffer being filled, if it has lines or a
# reopen is asked for, to the log writer, unless the writer still has the other one; the lines then
# wait in this buffer. Never blocks. Clobbers the caller-saved registers.
alog_handoff:
    mov rdx, qword ptr [rip + w_alog_len]
    test rdx, rdx
    jnz 2f
    cmp dword ptr [rip + w_alog_reopen], 0
    je 1f
2:  cmp dword ptr [rip + w_alog_busy], 0
    jne 1f
    mov rax, qword ptr [rip + w_alog_cur]
    mov qword ptr [rip + w_alog_out], rax
    mov qword ptr [rip + w_alog_out_len], rdx
    mov rcx, qword ptr [rip + w_alog_lines]
    mov qword ptr [rip + w_alog_out_lines], rcx
    mov ecx, dword ptr [rip + w_alog_reopen]  # a reopen asked for goes with the
    mov dword ptr [rip + w_alog_out_reopen], ecx  # lines before it, never with a
    mov dword ptr [rip + w_alog_reopen], 0    # buffer handed over earlier
    lea rcx, [rip + w_alog]               # fill the other one
    lea rdx, [rcx + ALOG_BUF]
    cmp rax, rcx
    cmove rcx, rdx
    mov qword ptr [rip + w_alog_cur], rcx
    xor eax, eax
    mov qword ptr [rip + w_alog_len], rax
    mov qword ptr [rip + w_alog_lines], rax
    mov dword ptr [rip + w_alog_busy], 1  # after the stores above (x86 keeps their order)
    lea rdi, [rip + w_alog_busy]
    mov esi, FUTEX_WAKE_PRIVATE
    mov edx, 1
    mov eax, SYS_futex
    syscall
1:  ret

# alog_final: (worker, stopping) the last lines: waits up to ALOG_EXIT_WAIT
# seconds for the writer to finish the buffer it has, then writes the other
# one itself. Clobbers the caller-saved registers.
.globl alog_final
alog_final:
    cmp qword ptr [rip + w_lgtab], 0
    je 3f
    push rbx
    sub rsp, 16                           # a timespec: one second
    mov ebx, ALOG_EXIT_WAIT
1:  cmp dword ptr [rip + w_alog_busy], 0
    je 2f
    dec ebx
    js 4f                                 # the disk hangs: the last lines are lost
    mov qword ptr [rsp], 1
    mov qword ptr [rsp + 8], 0
    lea rdi, [rip + w_alog_busy]
    mov esi, FUTEX_WAIT_PRIVATE
    mov edx, 1
    mov r10, rsp
    mov eax, SYS_futex
    syscall
    jmp 1b
2:  mov rdx, qword ptr [rip + w_alog_len]
    test rdx, rdx
    jz 4f
    mov rsi, qword ptr [rip + w_alog_cur]
    call alog_write                       # nothing else to serve: it may wait
4:  add rsp, 16
    pop rbx
3:  ret

# alog_slot: edi = a connection's fd. Returns rax = its line's slot, or 0
# when the log is off. Clobbers rcx.
.globl alog_slot
alog_slot:
    mov rax, qword ptr [rip + w_lgtab]
    test rax, rax
    jz 1f
    mov ecx, edi
    shl rcx, 10                           # LG_SLOT
    add rax, rcx
1:  ret

# alog_accept: rdi = conn just accepted, rsi = its peer's sockaddr.
# Writes the peer's address as text into its slot. Clobbers the caller-saved registers.
.globl alog_accept
alog_accept:
    push rbx
    push r12
    sub rsp, 8
    mov r12, rsi
    mov edi, dword ptr [rdi + C_FD]
    call alog_slot
    test rax, rax
    jz 9f
    mov rbx, rax
    mov dword ptr [rbx + LG_PENDING], 0
    mov qword ptr [rbx + LG_SENT], 0
    mov dword ptr [rbx + LG_KIND], 0
    call alog_clear                       # nothing of the fd's last connection
    lea rdi, [rbx + LG_ADDR]
    cmp word ptr [r12], AF_INET6
    je 2f
    mov esi, dword ptr [r12 + 4]          # IPv4: four octets
    call put_ipv4
    jmp 8f
2:  cmp qword ptr [r12 + 8], 0            # IPv4-mapped (::ffff:a.b.c.d): as IPv4
    jne 3f
    cmp dword ptr [r12 + 16], 0xffff0000
    jne 3f
    mov esi, dword ptr [r12 + 20]
    call put_ipv4
    jmp 8f
3:  xor ecx, ecx                          # eight groups of hex, unabridged
4:  movzx eax, word ptr [r12 + rcx*2 + 8]
    xchg al, ah
    push rcx
    push rdi
    mov esi, eax
    call fmt_hex16
    pop rdi
    pop rcx
    mov rdi, rax
    inc ecx
    cmp ecx, 8
    jae 8f
    mov byte ptr [rdi], ':'
    inc rdi
    jmp 4b
8:  lea rcx, [rbx + LG_ADDR]
    sub rdi, rcx
    mov dword ptr [rbx + LG_ADDR_LEN], edi
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# put_ipv4: rdi = where, esi = an IPv4 address as stored (network order).
# Returns rax = the end of "a.b.c.d". Clobbers rcx, rdx, rsi, rdi, r8, r9.
put_ipv4:
    push rbx
    push r12
    sub rsp, 8
    mov ebx, esi
    xor r12d, r12d
1:  movzx esi, bl
    call fmt_u64
    mov rdi, rax
    shr ebx, 8
    inc r12d
    cmp r12d, 4
    jae 2f
    mov byte ptr [rdi], '.'
    inc rdi
    jmp 1b
2:  mov rax, rdi
    add rsp, 8
    pop r12
    pop rbx
    ret

# fmt_hex16: rdi = where, esi = 0..65535. Writes it in lowercase hex, no
# leading zeros. Returns rax = the end. Clobbers rcx, rdx.
fmt_hex16:
    mov ecx, 12
    xor edx, edx                          # 1 once a digit is written
1:  mov eax, esi
    shr eax, cl
    and eax, 15
    jnz 2f
    test edx, edx
    jnz 2f
    test ecx, ecx
    jnz 3f
2:  mov edx, 1
    cmp eax, 10
    jb 4f
    add eax, 'a' - 10 - '0'
4:  add eax, '0'
    mov byte ptr [rdi], al
    inc rdi
3:  sub ecx, 4
    jns 1b
    mov rax, rdi
    ret

# alog_request: rdi = conn whose head is complete, rsi = its request line,
# rdx = that line's length. Keeps the line for the log. Clobbers the
# caller-saved registers.
.globl alog_request
alog_request:
    push rbx
    push r12
    push r13
    mov r12, rsi
    mov r13, rdx
    mov edi, dword ptr [rdi + C_FD]
    call alog_slot
    test rax, rax
    jz 1f
    mov rbx, rax
    mov dword ptr [rbx + LG_REF_LEN], 0
    mov dword ptr [rbx + LG_UA_LEN], 0
    lea rdi, [rbx + LG_REQ]
    mov rsi, r12
    mov rdx, r13
    mov ecx, LG_REQ_CAP
    call log_escape
    mov dword ptr [rbx + LG_REQ_LEN], eax
1:  pop r13
    pop r12
    pop rbx
    ret

# alog_request_raw: rdi = conn in ST_HEAD whose head cannot be parsed (bare
# LF, too long, timed out). Keeps what came of its first line, up to a CR or
# LF, as the request line of its answer's line (what nginx logs too).
# Clobbers the caller-saved registers.
.globl alog_request_raw
alog_request_raw:
    cmp qword ptr [rip + w_lgtab], 0
    je 3f
    mov rsi, qword ptr [rdi + C_IN_POS]
    mov rdx, qword ptr [rdi + C_IN_LEN]
    sub rdx, rsi
    jbe 3f                                # nothing held: no buffer either
    cmp rdx, HEAD_MAX
    jbe 1f
    mov edx, HEAD_MAX
1:  add rsi, qword ptr [rdi + C_IN_BUF]
    xor ecx, ecx
2:  cmp rcx, rdx
    jae 4f
    movzx eax, byte ptr [rsi + rcx]
    cmp eax, CR
    je 4f
    cmp eax, LF
    je 4f
    inc rcx
    jmp 2b
4:  mov rdx, rcx
    jmp alog_request
3:  ret

# alog_field: rdi = conn, esi = LG_REF or LG_UA, rdx = the value, rcx = its
# length. Keeps the Referer or User-Agent for the log. Clobbers the
# caller-saved registers.
.globl alog_field
alog_field:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov r12d, esi
    mov r13, rdx
    mov r14, rcx
    mov edi, dword ptr [rdi + C_FD]
    call alog_slot
    test rax, rax
    jz 1f
    mov rbx, rax
    lea rdi, [rbx + r12]
    mov rsi, r13
    mov rdx, r14
    mov ecx, LG_UA_CAP
    cmp r12d, LG_UA
    je 2f
    mov ecx, LG_REF_CAP
2:  call log_escape
    mov ecx, LG_UA_LEN
    cmp r12d, LG_UA
    je 3f
    mov ecx, LG_REF_LEN
3:  mov dword ptr [rbx + rcx], eax
1:  add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# log_escape: rdi = where, rsi = bytes, rdx = their length, ecx = room.
# Copies them, quotes, backslashes and bytes outside printable ASCII as
# \xHH, as much as fits. Returns eax = bytes written. Clobbers r8-r11.
log_escape:
    xor eax, eax
    lea r8, [rsi + rdx]
1:  cmp rsi, r8
    jae 9f
    movzx r9d, byte ptr [rsi]
    cmp r9d, 0x20
    jb 3f
    cmp r9d, 0x7f
    jae 3f
    cmp r9d, '"'
    je 3f
    cmp r9d, '\\'
    je 3f
    lea r10d, [eax + 1]
    cmp r10d, ecx
    ja 9f
    mov byte ptr [rdi + rax], r9b
    mov eax, r10d
    inc rsi
    jmp 1b
3:  lea r10d, [eax + 4]
    cmp r10d, ecx
    ja 9f
    mov word ptr [rdi + rax], 0x785c      # "\x"
    lea r11, [rip + hex_upper]
    mov r10d, r9d
    shr r10d, 4
    movzx r10d, byte ptr [r11 + r10]
    mov byte ptr [rdi + rax + 2], r10b
    and r9d, 15
    movzx r9d, byte ptr [r11 + r9]
    mov byte ptr [rdi + rax + 3], r9b
    add eax, 4
    inc rsi
    jmp 1b
9:  ret

# alog_begin: rdi = conn. Its request's clock starts now (its first bytes).
# Clobbers rax, rcx, rdi.
.globl alog_begin
alog_begin:
    mov edi, dword ptr [rdi + C_FD]
    call alog_slot
    test rax, rax
    jz 1f
    mov rcx, qword ptr [rip + w_now_us]
    mov qword ptr [rax + LG_START], rcx
1:  ret

# alog_answer: rdi = conn, esi = its answer's kind (R_*, or STAT_200). An
# answer begins: its line is pending. Clobbers rax, rcx.
.globl alog_answer
alog_answer:
    push rdi
    mov edi, dword ptr [rdi + C_FD]
    call alog_slot
    pop rdi
    test rax, rax
    jz 1f
    mov dword ptr [rax + LG_KIND], esi
    mov qword ptr [rax + LG_SENT], 0
    mov dword ptr [rax + LG_PENDING], 1
1:  ret

# alog_sent: rdi = conn, rax = bytes of its answer just sent. Clobbers rcx, rdx.
.globl alog_sent
alog_sent:
    mov rdx, qword ptr [rip + w_lgtab]
    test rdx, rdx
    jz 1f
    mov ecx, dword ptr [rdi + C_FD]
    shl rcx, 10
    add qword ptr [rdx + rcx + LG_SENT], rax
1:  ret

# alog_done: rdi = conn whose answer is sent (or abandoned). Writes its line
# if one is pending. Clobbers the caller-saved registers.
.globl alog_done
alog_done:
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov edi, dword ptr [r12 + C_FD]
    call alog_slot
    test rax, rax
    jz .Lad_out
    mov rbx, rax
    cmp dword ptr [rbx + LG_PENDING], 0
    je .Lad_out
    mov dword ptr [rbx + LG_PENDING], 0
    cmp qword ptr [rip + w_alog_len], ALOG_FLUSH
    jb 1f
    call alog_handoff
    cmp qword ptr [rip + w_alog_len], ALOG_BUF - ALOG_LINE_MAX
    jbe 1f
    mov edi, LOG_ALOG_BEHIND              # no room for it
    xor esi, esi
    mov edx, 1
    call log_count_n
    jmp .Lad_clear
1:  mov rdi, qword ptr [rip + w_alog_cur]
    add rdi, qword ptr [rip + w_alog_len]
    lea rsi, [rbx + LG_ADDR]
    mov edx, dword ptr [rbx + LG_ADDR_LEN]
    call copy
    mov rdi, rax
    lea rsi, [rip + al_user]              # " - - [" (no user: tokens are not logged)
    mov edx, OFFSET al_user_len
    call copy
    mov rdi, rax
    lea rsi, [rip + w_alog_date]
    mov edx, ALOG_DATE_LEN
    call copy
    mov rdi, rax
    lea rsi, [rip + al_request]           # "] \""
    mov edx, OFFSET al_request_len
    call copy
    mov rdi, rax
    lea rsi, [rbx + LG_REQ]
    mov edx, dword ptr [rbx + LG_REQ_LEN]
    call copy
    mov word ptr [rax], 0x2022            # quote, space
    lea r13, [rax + 2]
    mov eax, dword ptr [rbx + LG_KIND]
    call status_digits
    mov rdi, r13
    mov edx, 3
    call copy
    mov byte ptr [rax], SPACE
    lea r13, [rax + 1]
    mov rdi, r12                          # the body: what was sent, less the head
    call head_len_in_out
    mov rsi, qword ptr [rbx + LG_SENT]
    sub rsi, rax
    jae 3f
    xor esi, esi
3:  mov rdi, r13
    call fmt_u64
    mov word ptr [rax], 0x2220            # space, quote
    lea rdi, [rax + 2]
    lea rsi, [rbx + LG_REF]
    mov edx, dword ptr [rbx + LG_REF_LEN]
    call copy_or_dash
    mov rdi, rax
    lea rsi, [rip + al_between]           # "\" \""
    mov edx, OFFSET al_between_len
    call copy
    mov rdi, rax
    lea rsi, [rbx + LG_UA]
    mov edx, dword ptr [rbx + LG_UA_LEN]
    call copy_or_dash
    mov word ptr [rax], 0x2022            # quote, space
    lea rdi, [rax + 2]
    mov rsi, qword ptr [rip + w_now_us]
    sub rsi, qword ptr [rbx + LG_START]
    jae 5f
    xor esi, esi
5:  call fmt_u64
    mov byte ptr [rax], SPACE
    lea rdi, [rax + 1]
    mov esi, dword ptr [rip + w_slot]
    call fmt_u64
    mov byte ptr [rax], LF
    inc rax
    sub rax, qword ptr [rip + w_alog_cur]
    mov qword ptr [rip + w_alog_len], rax
    inc qword ptr [rip + w_alog_lines]
.Lad_clear:
    call alog_clear                       # a next request answered before its head
    mov rax, qword ptr [rip + w_now_us]   # is parsed (400, 414, 431, 408) must not
    mov qword ptr [rbx + LG_START], rax   # show this one's fields; its clock runs
.Lad_out:                                 # from here if no new bytes restart it
    pop r13
    pop r12
    pop rbx
    ret

# alog_clear: rbx = an fd's access log slot. Forgets its request line, Referer
# and User-Agent: a line is never written with another request's. Clobbers nothing.
alog_clear:
    mov dword ptr [rbx + LG_REQ_LEN], 0
    mov dword ptr [rbx + LG_REF_LEN], 0
    mov dword ptr [rbx + LG_UA_LEN], 0
    ret

# copy_or_dash: rdi = where, rsi = bytes, edx = their length; "-" if none.
# Returns rax = the end. Clobbers rcx, rdx, rsi, rdi.
copy_or_dash:
    test edx, edx
    jnz copy
    mov byte ptr [rdi], '-'
    lea rax, [rdi + 1]
    ret

# head_len_in_out: rdi = conn. Returns rax = the length of the answer's head
# in C_OUT (to its empty line), from which the bytes after it in C_OUT are
# body. Clobbers rcx, rdx, r8.
head_len_in_out:
    lea rdx, [rdi + C_OUT]
    mov rcx, qword ptr [rdi + C_OUT_LEN]
    xor eax, eax
1:  lea r8, [rax + 4]
    cmp r8, rcx
    ja 2f
    cmp dword ptr [rdx + rax], 0x0a0d0a0d
    je 3f
    inc rax
    jmp 1b
2:  mov rax, rcx
    ret
3:  lea rax, [rax + 4]
    ret

.section .rodata
al_user: .ascii " - - ["
.equ al_user_len, . - al_user
al_request: .ascii "] \""
.equ al_request_len, . - al_request
al_between: .ascii "\" \""
.equ al_between_len, . - al_between
err_alog: .ascii "cannot open the access log"
.equ err_alog_len, . - err_alog
err_alog_reopen: .ascii "cannot reopen the access log (the old file stays)"
.equ err_alog_reopen_len, . - err_alog_reopen

.data
.globl alog_fd
alog_fd: .long -1                         # the access log, or -1 when off

.bss
.p2align 3
.globl w_now_us, w_lgtab
w_lgtab:     .space 8                     # per-fd slots, when the log is on
w_now_us:    .space 8                     # monotonic µs, as of this round of the loop
w_alog_cur:  .space 8                     # the buffer being filled (of w_alog's two),
w_alog_len:  .space 8                     #   its length
w_alog_lines: .space 8                    #   and lines
w_alog_out:  .space 8                     # the buffer the writer has,
w_alog_out_len: .space 8                  #   its length
w_alog_out_lines: .space 8                #   and lines
w_alog_busy: .space 4                     # futex word: 1 while the writer has a buffer
w_alog_reopen: .space 4                   # 1: SIGUSR1 came; goes with the next buffer
w_alog_out_reopen: .space 4               # 1: the writer reopens after writing its buffer
alog_pipe:   .space 1                     # 1: alog_fd is not a regular file (alog_kind)
.p2align 3
alog_stat:   .space STAT_SIZE
w_alog_date: .space 32                    # "26/Nov/2026:08:45:00 +0000"
.p2align 6
w_alog:      .space 2 * ALOG_BUF
alog_stack:  .space ALOG_STACK
alog_stack_top:
.text
