# main.s - process entry, startup checks, and the master that keeps the workers.
#
# The master parses flags, prepares the data directory and the listening
# socket, forks the workers, and then only waits for signals: SIGCHLD (reap,
# and restart a worker that died) and SIGTERM/SIGINT (stop the workers
# gracefully, then exit 0). Those signals stay blocked and are taken with
# rt_sigtimedwait, so no handler ever runs.
.text

.globl _start
_start:
    mov rdi, rsp
    call vdso_init
    mov edi, dword ptr [rsp]              # argc
    lea rsi, [rsp + 8]                    # argv
    call parse_args
    call load_tokens
    call alog_open
    call setup_signals
    call open_data_dir
    call count_workers                    # (recovery runs as many loaders)
    call recover_log                      # before listening: the index is whole
    call seals_rewrite                    # before any segment is made (seal.s)
    test rax, rax
    js .Lm_seals
    call import_files                     # the old layout's values, if any
    call snapshot_drop                    # an image not read goes now (snapshot.s)
    call index_detach
    call raise_fd_limit
    call open_listener
    call open_metrics
    jmp supervise
.Lm_seals:
    lea rdi, [rip + err_seals]
    mov esi, OFFSET err_seals_len
    jmp .Lod_fatal

# setup_signals: ignores SIGPIPE (a vanished client must not kill a worker),
# gives SIGCHLD its default (one ignored by whoever started us would have the
# kernel reap our children before we can wait for them) and blocks the
# signals the master waits for; workers inherit all three.
# Clobbers the caller-saved registers.
setup_signals:
    sub rsp, 40                           # struct kernel_sigaction
    mov qword ptr [rsp], SIG_IGN
    xor eax, eax
    mov qword ptr [rsp + 8], rax
    mov qword ptr [rsp + 16], rax
    mov qword ptr [rsp + 24], rax
    mov edi, SIGPIPE
    mov rsi, rsp
    xor edx, edx
    mov r10d, SIGSET_SIZE
    mov eax, SYS_rt_sigaction
    syscall
    test rax, rax
    js 2f
    mov qword ptr [rsp], SIG_DFL
    mov edi, SIGCHLD
    mov rsi, rsp
    xor edx, edx
    mov r10d, SIGSET_SIZE
    mov eax, SYS_rt_sigaction
    syscall
2:  add rsp, 40
    test rax, rax
    js 1f
    mov edi, SIG_BLOCK
    lea rsi, [rip + master_sigset]
    xor edx, edx
    mov r10d, SIGSET_SIZE
    mov eax, SYS_rt_sigprocmask
    syscall
    test rax, rax
    js 1f
    ret
1:  lea rdi, [rip + err_signals]
    mov esi, OFFSET err_signals_len
    xor edx, edx
    mov ecx, eax
    neg ecx
    call fatal

# open_data_dir: creates (if needed), opens and locks the data directory,
# removes temporary files a crash left behind, and checks that it is writable.
# Exits with a clear message if any of that fails. Clobbers the caller-saved registers.
open_data_dir:
    push rbx
    mov edi, AT_FDCWD
    mov rsi, qword ptr [rip + cfg_data]
    mov edx, 0755
    mov eax, SYS_mkdirat
    syscall
    test rax, rax
    jns 1f
    cmp rax, -EEXIST
    je 1f
    lea rdi, [rip + err_mkdir]
    mov esi, OFFSET err_mkdir_len
    jmp .Lod_fatal
1:  mov edi, AT_FDCWD
    mov rsi, qword ptr [rip + cfg_data]
    mov edx, O_RDONLY | O_DIRECTORY | O_CLOEXEC
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    test rax, rax
    jns 2f
    lea rdi, [rip + err_open_dir]
    mov esi, OFFSET err_open_dir_len
    jmp .Lod_fatal
2:  mov dword ptr [rip + dir_fd], eax
    mov edi, eax
    mov esi, LOCK_EX_NB                   # two servers must not share a directory
    mov eax, SYS_flock
    syscall
    test rax, rax
    jns 3f
    lea rdi, [rip + err_locked]
    mov esi, OFFSET err_locked_len
    cmp rax, -EWOULDBLOCK
    jne .Lod_fatal
    mov rdx, qword ptr [rip + cfg_data]
    xor ecx, ecx
    call fatal
3:  lea rdi, [rip + tmp_prefix]
    mov esi, OFFSET tmp_prefix_len
    call remove_temps
    test rax, rax
    js 6f
    call remove_orphan_hints
    test rax, rax
    jns 4f
6:
    lea rdi, [rip + err_read_dir]
    mov esi, OFFSET err_read_dir_len
    jmp .Lod_fatal
4:  mov edi, dword ptr [rip + dir_fd]     # can we create files here?
    lea rsi, [rip + probe_name]
    mov edx, O_WRONLY | O_CREAT | O_CLOEXEC
    mov r10d, 0600
    mov eax, SYS_openat
    syscall
    test rax, rax
    jns 5f
    lea rdi, [rip + err_write_dir]
    mov esi, OFFSET err_write_dir_len
    jmp .Lod_fatal
5:  mov edi, eax
    mov eax, SYS_close
    syscall
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + probe_name]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    test rax, rax
    jns 6f
    lea rdi, [rip + err_write_dir]
    mov esi, OFFSET err_write_dir_len
    jmp .Lod_fatal
6:  pop rbx
    ret
.Lod_fatal:                               # rdi, esi = message; rax = -errno
    mov rdx, qword ptr [rip + cfg_data]
    mov ecx, eax
    neg ecx
    call fatal

# raise_fd_limit: lifts the soft descriptor limit to the hard one (at most
# MAX_FDS) so a worker can hold thousands of connections. Best effort: if the
# kernel refuses, the server runs with the limit it has. Clobbers the caller-saved registers.
raise_fd_limit:
    sub rsp, 24
    xor edi, edi
    mov esi, RLIMIT_NOFILE
    xor edx, edx
    mov r10, rsp                          # struct rlimit64: soft, hard
    mov eax, SYS_prlimit64
    syscall
    test rax, rax
    js 1f
    mov rax, qword ptr [rsp + 8]
    cmp rax, MAX_FDS
    jbe 2f
    mov eax, MAX_FDS
2:  mov qword ptr [rsp], rax
    xor edi, edi
    mov esi, RLIMIT_NOFILE
    mov rdx, rsp
    xor r10d, r10d
    mov eax, SYS_prlimit64
    syscall                               # failure leaves the old limit: fine
1:  add rsp, 24
    ret

# count_workers: if --workers was not given, sets cfg_workers to the number of
# CPUs this process may run on (at least 1, at most MAX_WORKERS).
# Clobbers the caller-saved registers.
count_workers:
    cmp dword ptr [rip + cfg_workers], 0
    jne 4f
    sub rsp, 128
    xor edi, edi
    mov esi, 128
    mov rdx, rsp
    mov eax, SYS_sched_getaffinity
    syscall
    xor ecx, ecx                          # CPUs counted
    test rax, rax
    jle 3f
    xor esi, esi
1:  cmp rsi, rax
    jae 3f
    movzx edx, byte ptr [rsp + rsi]
2:  test edx, edx
    jz 5f
    mov edi, edx
    and edi, 1
    add ecx, edi
    shr edx, 1
    jmp 2b
5:  inc rsi
    jmp 1b
3:  add rsp, 128
    test ecx, ecx
    jnz 6f
    mov ecx, 1
6:  cmp ecx, MAX_WORKERS
    jbe 7f
    mov ecx, MAX_WORKERS
7:  mov dword ptr [rip + cfg_workers], ecx
4:  ret

# open_listener: creates the non-blocking listening socket on the address of
# cfg_family (cfg_addr or cfg_addr6) and cfg_port, and stores the port really
# bound in cfg_port (port 0 picks a free one). Exits with a clear message if
# the address cannot be used. Clobbers the caller-saved registers.
open_listener:
    push rbx
    sub rsp, 112                          # [rsp] sockaddr, [rsp+32] len, [rsp+48] text
    movzx edi, word ptr [rip + cfg_family]
    mov esi, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC
    xor edx, edx
    mov eax, SYS_socket
    syscall
    test rax, rax
    js .Lol_failed
    mov ebx, eax
    mov dword ptr [rip + listen_fd], eax
    mov edi, eax
    mov esi, SOL_SOCKET                   # restart at once despite TIME_WAIT
    mov edx, SO_REUSEADDR
    call set_int_option
    test rax, rax
    js .Lol_failed
    mov edi, ebx
    mov esi, IPPROTO_TCP                  # accepted sockets inherit it: small
    mov edx, TCP_NODELAY                  # answers are not held back by Nagle
    call set_int_option
    test rax, rax
    js .Lol_failed
    xor eax, eax                          # flow info, scope, padding: zero
    mov qword ptr [rsp], rax
    mov qword ptr [rsp + 8], rax
    mov qword ptr [rsp + 16], rax
    mov qword ptr [rsp + 24], rax
    movzx eax, word ptr [rip + cfg_family]
    mov word ptr [rsp], ax
    movzx eax, word ptr [rip + cfg_port]
    xchg al, ah
    mov word ptr [rsp + 2], ax
    mov edx, SOCKADDR_IN_SIZE
    cmp word ptr [rip + cfg_family], AF_INET6
    je 1f
    mov eax, dword ptr [rip + cfg_addr]
    mov dword ptr [rsp + 4], eax
    jmp 2f
1:  mov rax, qword ptr [rip + cfg_addr6]
    mov qword ptr [rsp + 8], rax
    mov rax, qword ptr [rip + cfg_addr6 + 8]
    mov qword ptr [rsp + 16], rax
    mov edx, SOCKADDR_IN6_SIZE
2:  mov dword ptr [rsp + 32], edx         # getsockname's room, below
    mov edi, ebx
    mov rsi, rsp
    mov eax, SYS_bind
    syscall
    test rax, rax
    js .Lol_failed
    mov edi, ebx
    mov esi, LISTEN_BACKLOG
    mov eax, SYS_listen
    syscall
    test rax, rax
    js .Lol_failed
    mov edi, ebx
    mov rsi, rsp
    lea rdx, [rsp + 32]
    mov eax, SYS_getsockname
    syscall
    test rax, rax
    js .Lol_failed
    movzx eax, word ptr [rsp + 2]         # the port is at the same place in both forms
    xchg al, ah
    mov word ptr [rip + cfg_port], ax
    add rsp, 112
    pop rbx
    ret
.Lol_failed:
    mov rbx, rax
    lea rdi, [rsp + 48]
    call format_address
    mov byte ptr [rax], 0
    lea rdi, [rip + err_listen]
    mov esi, OFFSET err_listen_len
    lea rdx, [rsp + 48]
    mov rcx, rbx
    neg ecx
    call fatal

# open_metrics: with --metrics, opens its listening socket (metrics_fd) as
# open_listener does the other, and notes the port it got. Exits with a
# clear message if the address cannot be used. Clobbers the caller-saved registers.
open_metrics:
    cmp dword ptr [rip + cfg_metrics + CM_GIVEN], 0
    je 1f
    push rbx
    mov ebx, dword ptr [rip + listen_fd]
    call swap_listen_metrics
    call open_listener
    mov eax, dword ptr [rip + listen_fd]
    mov dword ptr [rip + metrics_fd], eax
    mov dword ptr [rip + listen_fd], ebx
    call swap_listen_metrics
    pop rbx
1:  ret

# announce: prints "asmkv listening on http://ADDR:PORT". Called once every
# worker exists, so whoever reads the line may rely on a ready server.
# Clobbers the caller-saved registers.
announce:
    sub rsp, 88                           # the line: at most 26 + 47 + 6 + 1 bytes
    lea rdi, [rip + msg_started]          # the error log first: whoever saw the
    mov esi, OFFSET msg_started_len       # listening line finds it there
    xor edx, edx
    xor ecx, ecx
    call log_line
    mov rdi, rsp
    lea rsi, [rip + msg_listening]
    mov edx, OFFSET msg_listening_len
    call copy
    mov rdi, rax
    call format_address
    mov byte ptr [rax], LF
    lea rdx, [rax + 1]
    mov rsi, rsp
    sub rdx, rsi
    mov edi, STDOUT
    call write_all                        # a closed stdout is no reason to stop
    cmp dword ptr [rip + cfg_metrics + CM_GIVEN], 0
    je 1f
    mov rdi, rsp                          # then "asmkv metrics on http://ADDR:PORT/metrics"
    lea rsi, [rip + msg_metrics_on]
    mov edx, OFFSET msg_metrics_on_len
    call copy
    push rax
    push rax
    call swap_listen_metrics
    pop rdi
    pop rdi
    call format_address
    push rax
    push rax
    call swap_listen_metrics
    pop rax
    pop rax
    mov dword ptr [rax], 0x74656d2f       # "/metrics", LF
    mov dword ptr [rax + 4], 0x73636972
    mov byte ptr [rax + 8], LF
    lea rdx, [rax + 9]
    mov rsi, rsp
    sub rdx, rsi
    mov edi, STDOUT
    call write_all
1:  add rsp, 88
    ret

# set_int_option: edi = socket, esi = level, edx = option. Sets it to 1.
# Returns rax = 0 or -errno. Clobbers rcx, rdx, rsi, rdi, r8, r10, r11.
set_int_option:
    sub rsp, 8
    mov dword ptr [rsp], 1
    mov r10, rsp
    mov r8d, 4
    mov eax, SYS_setsockopt
    syscall
    add rsp, 8
    ret

# format_address: rdi = destination (48 bytes room). Writes the listening
# address as "A.B.C.D:PORT", or "[IPV6]:PORT" with the IPv6 address as it was
# given. Returns rax = end. Clobbers rcx, rdx, rsi, rdi, r8, r9, r10.
format_address:
    push rbx
    push r12
    mov rbx, rdi
    cmp word ptr [rip + cfg_family], AF_INET6
    jne 3f
    mov byte ptr [rdi], '['
    inc rdi
    mov rsi, qword ptr [rip + cfg_addr6_text]
    mov rdx, qword ptr [rip + cfg_addr6_len]   # at most IPV6_TEXT_MAX
    call copy
    mov word ptr [rax], 0x3a5d            # "]:"
    lea rbx, [rax + 2]
    jmp 4f
3:  xor r12d, r12d
1:  lea rax, [rip + cfg_addr]
    movzx esi, byte ptr [rax + r12]
    mov rdi, rbx
    call fmt_u64
    mov rbx, rax
    inc r12d
    mov byte ptr [rbx], '.'
    cmp r12d, 4
    jne 2f
    mov byte ptr [rbx], ':'
2:  inc rbx
    cmp r12d, 4
    jb 1b
4:  mov rdi, rbx
    movzx esi, word ptr [rip + cfg_port]
    call fmt_u64
    pop r12
    pop rbx
    ret

# supervise: never returns. Forks the workers, then reaps and restarts them,
# until SIGTERM or SIGINT stops everything.
supervise:
    mov eax, SYS_getpid
    syscall
    mov dword ptr [rip + master_pid], eax
    xor ebx, ebx                          # rbx, r12: the master has no caller to keep
1:  cmp ebx, dword ptr [rip + cfg_workers]
    jae 3f
    mov edi, ebx
    call spawn_worker
    test rax, rax
    js .Lsv_fork_failed
    inc ebx
    jmp 1b
3:  mov edi, ebx                          # the compactor: the slot after the workers'
    call spawn_worker
    test rax, rax
    js .Lsv_fork_failed
    call announce
.Lsv_wait:
    lea rdi, [rip + master_sigset]
    lea rsi, [rip + m_siginfo]
    xor edx, edx
    mov r10d, SIGSET_SIZE
    mov eax, SYS_rt_sigtimedwait
    syscall
    cmp eax, SIGCHLD
    je 2f
    cmp eax, SIGTERM
    je .Lsv_stop
    cmp eax, SIGINT
    je .Lsv_stop
    cmp eax, SIGUSR1
    jne .Lsv_wait                         # EINTR and the like
    call alog_reopen                      # the access log's rotation: ours (for the
    xor ebx, ebx                          # workers started later), then the workers'
8:  cmp ebx, dword ptr [rip + cfg_workers]
    jae .Lsv_wait
    lea rax, [rip + worker_pids]
    mov edi, dword ptr [rax + rbx*4]
    inc ebx
    test edi, edi
    jz 8b
    mov esi, SIGUSR1
    mov eax, SYS_kill
    syscall
    jmp 8b
2:  call reap_workers
    jmp .Lsv_wait
.Lsv_stop:
    lea rdi, [rip + msg_stopping]
    mov esi, OFFSET msg_stopping_len
    xor edx, edx
    xor ecx, ecx
    call log_line
    mov edi, dword ptr [rip + listen_fd]  # new connections are refused from now
    mov eax, SYS_close
    syscall
    xor ebx, ebx
3:  cmp ebx, MAX_CHILDREN
    jae 5f
    lea rax, [rip + worker_pids]
    mov edi, dword ptr [rax + rbx*4]
    inc ebx
    test edi, edi
    jz 3b
    mov esi, SIGTERM
    mov eax, SYS_kill
    syscall
    jmp 3b
5:  xor r12d, r12d                        # wait for every worker to finish: did
6:  sub rsp, 16                           # each exit 0? (r12d: 1 if not)
    mov edi, -1
    mov rsi, rsp
    xor edx, edx
    xor r10d, r10d
    mov eax, SYS_wait4
    syscall
    mov ecx, dword ptr [rsp]
    add rsp, 16
    cmp rax, -ECHILD
    je 7f
    cmp rax, -EINTR
    je 6b
    test rax, rax
    js 7f
    test ecx, ecx                         # killed, or exited non-zero: it may
    jz 6b                                 # have stopped in the middle of a change
    mov r12d, 1
    jmp 6b
7:  test r12d, r12d                       # all stopped cleanly, and none died
    jnz 8f                                # before: the index's image for the next
    cmp byte ptr [rip + m_unclean], 0     # start (snapshot.s)
    jne 8f
    call snapshot_save
8:  lea rdi, [rip + msg_stopped]
    mov esi, OFFSET msg_stopped_len
    xor edx, edx
    xor ecx, ecx
    call log_line
    xor edi, edi
    mov eax, SYS_exit_group
    syscall
.Lsv_fork_failed:
    lea rdi, [rip + err_fork]
    mov esi, OFFSET err_fork_len
    xor edx, edx
    mov ecx, eax
    neg ecx
    call fatal

# spawn_worker: edi = slot. Forks a worker into that slot (the slot after the
# last worker's is the compactor's). The child finds its slot in
# w_slot. Returns rax = pid, or -errno (the slot stays empty).
# Clobbers the caller-saved registers.
spawn_worker:
    push rbx
    push r12
    sub rsp, 8
    mov ebx, edi
    mov dword ptr [rip + w_slot], edi
    xor r12d, r12d
    cmp edi, dword ptr [rip + cfg_workers]
    jne 2f
    lea rsi, [rip + compactor_name]       # the compactor is born with its name,
    call set_name                         # so no one ever sees it as a worker
    mov r12d, 1
2:  mov eax, SYS_fork
    syscall
    test rax, rax
    jz worker_main                        # the child never returns
    mov rbx, rax
    test r12d, r12d
    jz 3f
    lea rsi, [rip + master_name]
    call set_name
3:  mov rax, rbx
    test rax, rax
    js 1f
    mov ecx, dword ptr [rip + w_slot]
    lea rdx, [rip + worker_pids]
    mov dword ptr [rdx + rcx*4], eax
1:  add rsp, 8
    pop r12
    pop rbx
    ret

# set_name: rsi = a NUL-terminated name (15 bytes at most). Names this
# process (ps, /proc/PID/comm). Clobbers rax, rcx, rdi, r11.
set_name:
    mov edi, PR_SET_NAME
    mov eax, SYS_prctl                    # cannot fail with a valid pointer
    syscall
    ret

# reap_workers: collects every exited worker; outside a stop, removes its
# temporary files and starts another in its place. Clobbers the caller-saved registers.
reap_workers:
    push rbx
    push r12
    sub rsp, 72                           # [rsp] status, [rsp+8] text (a prefix, a detail)
.Lrw_next:
    mov edi, -1
    mov rsi, rsp
    mov edx, WNOHANG
    xor r10d, r10d
    mov eax, SYS_wait4
    syscall
    test rax, rax
    jle .Lrw_out                          # 0: none left now; ECHILD: none at all
    mov r12d, eax
    xor ebx, ebx
1:  cmp ebx, MAX_CHILDREN
    jae .Lrw_next                         # not one of ours
    lea rcx, [rip + worker_pids]
    cmp dword ptr [rcx + rbx*4], r12d
    je 2f
    inc ebx
    jmp 1b
2:  mov dword ptr [rcx + rbx*4], 0
    cmp dword ptr [rsp], 0                # killed, or failed: what it left (counts
    je 5f                                 # kept high, nodes leaked) only a full
    mov byte ptr [rip + m_unclean], 1     # read of the segments clears: no image
5:  mov edi, ebx                          # at the stop
    call index_forget
    # "pid N, killed by signal S" or "pid N, exit status S" (wait4's status)
    lea rdi, [rsp + 8]
    mov dword ptr [rdi], 0x20646970       # "pid "
    add rdi, 4
    mov esi, r12d
    call fmt_u64
    mov rdi, rax
    mov ecx, dword ptr [rsp]
    and ecx, 0x7f                         # the signal that ended it, or 0
    jz 3f
    lea rsi, [rip + msg_signal]
    mov edx, OFFSET msg_signal_len
    call copy
    mov rdi, rax
    mov esi, dword ptr [rsp]
    and esi, 0x7f
    jmp 4f
3:  lea rsi, [rip + msg_status]
    mov edx, OFFSET msg_status_len
    call copy
    mov rdi, rax
    movzx esi, byte ptr [rsp + 1]         # its exit status
4:  call fmt_u64
    mov byte ptr [rax], 0
    lea rdi, [rip + msg_restart]
    mov esi, OFFSET msg_restart_len
    lea rdx, [rsp + 8]
    xor ecx, ecx
    call log_line
    # its unfinished uploads: ".tmp-PID-*"
    lea rdi, [rsp + 8]
    lea rsi, [rip + tmp_prefix]
    mov edx, OFFSET tmp_prefix_len
    call copy
    mov rdi, rax
    mov esi, r12d
    call fmt_u64
    mov byte ptr [rax], '-'
    lea rsi, [rax + 1]
    lea rdi, [rsp + 8]
    sub rsi, rdi
    call remove_temps                     # best effort: startup cleans up too
    sub rsp, 24                           # pause briefly, so a worker that dies
    mov qword ptr [rsp], 0                # at once cannot make us spin
    mov qword ptr [rsp + 8], 50000000
    mov rdi, rsp
    xor esi, esi
    mov eax, SYS_nanosleep
    syscall
    add rsp, 24
    mov edi, ebx
    call spawn_worker
    jmp .Lrw_next
.Lrw_out:
    add rsp, 72
    pop r12
    pop rbx
    ret

.section .rodata
master_sigset:  .quad MASTER_SIGNALS
err_seals:      .ascii "cannot write the segments' seals (.asmkv-seals) in the data directory"
.equ err_seals_len, . - err_seals
msg_listening:  .ascii "asmkv listening on http://"
.equ msg_listening_len, . - msg_listening
msg_restart:    .ascii "a worker exited unexpectedly; starting another"
.equ msg_restart_len, . - msg_restart
msg_signal:     .ascii ", killed by signal "
.equ msg_signal_len, . - msg_signal
msg_status:     .ascii ", exit status "
.equ msg_status_len, . - msg_status
msg_metrics_on: .ascii "asmkv metrics on http://"
.equ msg_metrics_on_len, . - msg_metrics_on
msg_started:    .ascii "started"
.equ msg_started_len, . - msg_started
msg_stopping:   .ascii "stopping: no new connections; finishing the requests in flight"
.equ msg_stopping_len, . - msg_stopping
msg_stopped:    .ascii "stopped"
.equ msg_stopped_len, . - msg_stopped
probe_name:     .asciz ".tmp-probe"
master_name:    .asciz "asmkv"
err_signals:    .ascii "cannot set up signal handling"
.equ err_signals_len, . - err_signals
err_mkdir:      .ascii "cannot create data directory"
.equ err_mkdir_len, . - err_mkdir
err_open_dir:   .ascii "cannot open data directory"
.equ err_open_dir_len, . - err_open_dir
err_locked:     .ascii "data directory is in use by another asmkv"
.equ err_locked_len, . - err_locked
err_read_dir:   .ascii "cannot read data directory"
.equ err_read_dir_len, . - err_read_dir
err_write_dir:  .ascii "cannot write in data directory"
.equ err_write_dir_len, . - err_write_dir
err_listen:     .ascii "cannot listen on"
.equ err_listen_len, . - err_listen
err_fork:       .ascii "cannot start worker processes"
.equ err_fork_len, . - err_fork

.data
.globl metrics_fd
metrics_fd:  .long -1                # the --metrics socket, if any

.bss
.p2align 3
.globl listen_fd, master_pid, w_slot
m_siginfo:   .space SIGINFO_SIZE
m_unclean:   .space 1                   # 1 once a child died before the stop
worker_pids: .space MAX_CHILDREN * 4 # 0: empty slot
w_slot:      .space 4                # in a child: its slot
listen_fd:   .space 4
master_pid:  .space 4
.text
