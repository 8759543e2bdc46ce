# worker.s - a worker process: one epoll loop over many non-blocking connections.
#
# Connections live in a table indexed by their fd (C_* layout in defs.s). The
# socket is registered edge-triggered for input and output once; conn_drive
# then runs the connection's state machine until the socket would block, so
# no readiness is ever missed. A connection that could keep going for long
# (a large upload or download) yields after DRIVE_BUDGET steps and is put on
# the ready list, so one fast client cannot starve the others.
#
# One round of the loop: wait for events (without blocking if connections are
# ready); accept, tick (clock.s: Date and timeouts), answer a committed group
# (commit.s), or drive each connection; drive the ready list; then hand the
# uploads completed so far to the worker's flusher thread as a group, unless
# it is still busy with the last one (commit.s).
#
# Connection states: ST_HEAD (reading a request head) -> ST_BODY (upload into
# a temporary file) -> [ST_COMMIT (waiting for the group commit)] -> ST_WRITE
# (answer head, then sendfile) -> ST_DONE (next request, or close) and, after
# an error answer, ST_LINGER (write side shut, input drained) -> closed.
.text

# worker_main: never returns. Runs in a child of the master with the listening
# socket, data directory and configuration inherited.
.globl worker_main
worker_main:
    mov edi, PR_SET_PDEATHSIG             # stop when the master dies
    mov esi, SIGTERM
    mov eax, SYS_prctl
    syscall
    test rax, rax
    js .Lwm_failed
    mov eax, SYS_getppid                  # the master may have died before prctl
    syscall
    cmp eax, dword ptr [rip + master_pid]
    jne .Lwm_orphan
    mov eax, dword ptr [rip + w_slot]
    cmp eax, dword ptr [rip + cfg_workers]
    je compactor_main                     # the slot after the workers'
    mov eax, SYS_getpid
    syscall
    mov dword ptr [rip + w_pid], eax

    mov rdi, MAX_FDS * CONN_SIZE          # slots come into memory as fds are used
    call reserve_memory
    cmp rax, -4096
    ja .Lwm_failed
    mov qword ptr [rip + w_table], rax
    lea rax, [rip + w_ready_a]
    mov qword ptr [rip + w_ready], rax
    call inbuf_init
    test rax, rax
    js .Lwm_failed
    call seg_init
    test rax, rax
    js .Lwm_failed
    call index_attach
    test rax, rax
    js .Lwm_failed
    call index_leave                      # what a killed worker in this slot left:
    call flight_reset                     # its epoch, its writes in flight,
    call backup_forget_own                # its active segment and backup
    call stats_init

    mov edi, EPOLL_CLOEXEC
    mov eax, SYS_epoll_create1
    syscall
    test rax, rax
    js .Lwm_failed
    mov dword ptr [rip + w_epfd], eax

    mov edi, -1
    lea rsi, [rip + stop_sigset]
    mov edx, SIGSET_SIZE
    mov r10d, SFD_NONBLOCK | SFD_CLOEXEC
    mov eax, SYS_signalfd4
    syscall
    test rax, rax
    js .Lwm_failed
    mov dword ptr [rip + w_sigfd], eax

    call open_spare

    call clock_start
    test rax, rax
    js .Lwm_failed
    mov dword ptr [rip + w_timerfd], eax
    push rax
    push rax
    call alog_init
    test rax, rax
    pop rax
    pop rax
    js .Lwm_failed
    mov edi, eax
    mov esi, EPOLLIN
    call watch
    test rax, rax
    js .Lwm_failed

    mov edi, dword ptr [rip + listen_fd]
    mov esi, EPOLLIN | EPOLLEXCLUSIVE     # wake one worker per connection
    call watch
    test rax, rax
    js .Lwm_failed
    mov edi, dword ptr [rip + metrics_fd]
    test edi, edi
    js 1f
    mov esi, EPOLLIN | EPOLLEXCLUSIVE
    call watch
    test rax, rax
    js .Lwm_failed
1:
    mov edi, dword ptr [rip + w_sigfd]
    mov esi, EPOLLIN
    call watch
    test rax, rax
    js .Lwm_failed

    call flusher_start
    test rax, rax
    js .Lwm_failed
    mov edi, dword ptr [rip + w_done_fd]
    mov esi, EPOLLIN
    call watch
    test rax, rax
    js .Lwm_failed

.Lwm_loop:
    call index_leave                      # no node read across the wait
    mov edx, -1                           # block, unless connections are ready
    mov eax, dword ptr [rip + w_ready_n]
    test eax, eax
    jz 1f
    xor edx, edx
1:  mov edi, dword ptr [rip + w_epfd]
    lea rsi, [rip + w_events]
    mov r10d, edx
    mov edx, MAX_EVENTS
    mov eax, SYS_epoll_wait
    syscall
    test rax, rax
    jns 2f
    cmp rax, -EINTR
    je .Lwm_loop
    jmp .Lwm_failed
2:  push rax
    push rax
    call index_enter                      # awake: nodes may be read until the next wait
    call round_clock                      # the clocks, and the tick if it is due
    pop rax
    pop rax
    push rbx
    push r12
    mov r12, rax                          # events
    xor ebx, ebx
3:  cmp rbx, r12
    jae 6f
    imul rax, rbx, EPOLL_EVENT_SIZE
    lea rcx, [rip + w_events]
    mov edi, dword ptr [rcx + rax + EV_DATA]
    mov esi, dword ptr [rcx + rax + EV_EVENTS]
    inc rbx
    cmp edi, dword ptr [rip + w_sigfd]
    je 4f
    cmp edi, dword ptr [rip + listen_fd]
    je 5f
    cmp edi, dword ptr [rip + metrics_fd]
    je 8f
    cmp edi, dword ptr [rip + w_timerfd]
    je 7f
    cmp edi, dword ptr [rip + w_done_fd]
    je 9f
    call drive_fd
    jmp 3b
9:  call commit_done
    jmp 3b
7:  call tick_event
    jmp 3b
4:  call begin_stop
    jmp 3b
5:  cmp dword ptr [rip + w_stopping], 0
    jne 3b
    mov edi, dword ptr [rip + listen_fd]
    xor esi, esi
    call accept_all
    jmp 3b
8:  cmp dword ptr [rip + w_stopping], 0
    jne 3b
    mov edi, dword ptr [rip + metrics_fd]
    mov esi, RX_METRICS
    call accept_all
    jmp 3b
6:  call run_ready
    call commit_start                     # the uploads completed this round
    pop r12
    pop rbx
    cmp dword ptr [rip + w_stopping], 0
    je .Lwm_loop
    cmp qword ptr [rip + w_active], 0
    jne .Lwm_loop
    call alog_final                       # the last lines
    call log_counted                      # and the events of the last second
    xor edi, edi                          # stopped and every connection done
    mov eax, SYS_exit_group
    syscall

.Lwm_orphan:
    xor edi, edi
    mov eax, SYS_exit_group
    syscall
.Lwm_failed:
    lea rdi, [rip + msg_worker_failed]
    mov esi, OFFSET msg_worker_failed_len
    xor edx, edx
    mov ecx, eax
    neg ecx
    call log_line
    mov edi, 1
    mov eax, SYS_exit_group
    syscall

# watch: edi = fd, esi = epoll events. Adds fd (as its own data) to the epoll set.
# Returns rax = 0 or -errno. Clobbers rcx, rdx, rsi, rdi, r10, r11.
watch:
    sub rsp, 24
    mov dword ptr [rsp + EV_EVENTS], esi
    mov qword ptr [rsp + EV_DATA], rdi
    mov edx, edi
    mov edi, dword ptr [rip + w_epfd]
    mov esi, EPOLL_CTL_ADD
    mov r10, rsp
    mov eax, SYS_epoll_ctl
    syscall
    add rsp, 24
    ret

# open_spare: keeps one descriptor in reserve, to be given up to refuse a
# connection cleanly when the process runs out (EMFILE). Clobbers rax, rcx,
# rdx, rsi, rdi, r10, r11.
open_spare:
    mov edi, AT_FDCWD
    lea rsi, [rip + dev_null]
    mov edx, O_RDONLY | O_CLOEXEC
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    mov dword ptr [rip + w_spare], eax    # stays negative if it failed
    ret

# drive_fd: edi = a connection's fd, esi = the epoll events that came for it
# (0 if none). Records input readiness and drives the connection if it is open.
# Clobbers the caller-saved registers.
drive_fd:
    mov eax, edi
    imul rax, rax, CONN_SIZE
    mov rdi, qword ptr [rip + w_table]
    add rdi, rax
    cmp dword ptr [rdi + C_STATE], ST_FREE
    je 1f
    test esi, EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR
    jz 2f
    and dword ptr [rdi + C_RX], ~RX_DRAINED    # new input (or its end) to read
    test esi, EPOLLRDHUP | EPOLLHUP | EPOLLERR
    jz 2f
    or dword ptr [rdi + C_RX], RX_PEER_DONE     # no further edge will come
2:  jmp conn_drive
1:  ret

# run_ready: drives the connections that used up their budget last round;
# those that use it up again are queued anew. The ready list is two arrays
# that swap each round: the one being run is never appended to, and the one
# being filled holds each fd at most once (C_QUEUED is set when an fd is
# appended and cleared only here, when its entry is taken), so neither can
# hold more than MAX_FDS entries. (One array, run and refilled at once, could
# hold twice the queued connections in one round.) Clobbers the caller-saved
# registers.
run_ready:
    push rbx
    push r12
    push r13
    mov r13, qword ptr [rip + w_ready]    # the round's list: run it...
    mov r12d, dword ptr [rip + w_ready_n]
    lea rax, [rip + w_ready_a]            # ...while the other one fills
    lea rcx, [rip + w_ready_b]
    cmp r13, rax
    cmove rax, rcx
    mov qword ptr [rip + w_ready], rax
    mov dword ptr [rip + w_ready_n], 0
    xor ebx, ebx
1:  cmp ebx, r12d
    jae 2f
    mov edi, dword ptr [r13 + rbx*4]
    inc ebx
    mov eax, edi
    imul rax, rax, CONN_SIZE
    add rax, qword ptr [rip + w_table]
    mov dword ptr [rax + C_QUEUED], 0
    xor esi, esi                          # no new event: readiness unchanged
    call drive_fd
    jmp 1b
2:  pop r13
    pop r12
    pop rbx
    ret

# accept_all: edi = a listening socket, esi = C_RX bits for what it accepts
# (RX_METRICS for the metrics socket). Accepts up to ACCEPT_BATCH pending
# connections and registers each. Taking only a few per wakeup leaves the rest to the other workers
# (the listener is level-triggered and shared with EPOLLEXCLUSIVE), so a burst
# of connections is spread over the workers instead of landing on one.
# Clobbers the caller-saved registers.
accept_all:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov r13d, edi
    mov r14d, esi
    mov r12d, ACCEPT_BATCH
.Laa_next:
    dec r12d
    js .Laa_done
    mov edi, r13d
    lea rsi, [rip + w_peer]               # the client's address, for the access log
    lea rdx, [rip + w_peer_len]
    mov dword ptr [rdx], SOCKADDR_MAX
    mov r10d, SOCK_NONBLOCK | SOCK_CLOEXEC
    mov eax, SYS_accept4
    syscall
    test rax, rax
    js .Laa_error
    cmp rax, MAX_FDS
    jae .Laa_refuse
    mov ebx, eax
    cmp eax, dword ptr [rip + w_maxfd]
    jbe 1f
    mov dword ptr [rip + w_maxfd], eax
1:  imul rdi, rax, CONN_SIZE
    add rdi, qword ptr [rip + w_table]
    mov dword ptr [rdi + C_FD], ebx
    call conn_reset
    mov dword ptr [rdi + C_STATE], ST_HEAD
    mov dword ptr [rdi + C_WH + WH_FD], -1  # no record, no spool
    mov dword ptr [rdi + C_WH + WH_FLAGS], 0
    mov dword ptr [rdi + C_GET_FD], -1
    xor eax, eax
    mov qword ptr [rdi + C_IN_LEN], rax
    mov qword ptr [rdi + C_IN_BUF], rax   # lent when the first bytes come
    mov qword ptr [rdi + C_WH + WH_SPOOL], rax  # no spool file, no listing: nothing to give back
    mov qword ptr [rdi + C_LIST], rax
    mov dword ptr [rdi + C_RX], r14d      # (which socket it came in on)
    mov rsi, qword ptr [rip + cfg_idle_timeout]
    call set_deadline
    mov edi, ebx
    mov esi, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
    call watch
    test rax, rax
    js .Laa_unwatched
    inc qword ptr [rip + w_active]
    test r14d, RX_METRICS
    jz 2f
    inc qword ptr [rip + w_scrapers]
2:  call stat_open
    mov edi, ebx
    imul rdi, rdi, CONN_SIZE
    add rdi, qword ptr [rip + w_table]
    lea rsi, [rip + w_peer]
    call alog_accept
    jmp .Laa_next
.Laa_unwatched:
    mov eax, ebx
    imul rax, rax, CONN_SIZE
    add rax, qword ptr [rip + w_table]
    mov dword ptr [rax + C_STATE], ST_FREE
    mov edi, ebx
    mov eax, SYS_close
    syscall
    jmp .Laa_next
.Laa_refuse:
    mov edi, eax
    mov eax, SYS_close
    syscall
    jmp .Laa_next
.Laa_error:
    cmp rax, -EINTR
    je .Laa_next
    cmp rax, -ECONNABORTED
    je .Laa_next
    cmp rax, -EMFILE
    je .Laa_shed
    cmp rax, -ENFILE
    je .Laa_shed
.Laa_done:                                # EAGAIN: all taken; others: retry on next event
    add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Laa_shed:
    mov edi, LOG_SHED
    mov esi, EMFILE
    call log_count
    # out of descriptors: close the spare, accept and close one connection so
    # the client hears a close instead of waiting, then take the spare back
    mov edi, dword ptr [rip + w_spare]
    test edi, edi
    js 1f
    mov eax, SYS_close
    syscall
    mov edi, r13d
    xor esi, esi
    xor edx, edx
    mov r10d, SOCK_CLOEXEC
    mov eax, SYS_accept4
    syscall
    test rax, rax
    js 1f
    mov edi, eax
    mov eax, SYS_close
    syscall
1:  call open_spare
    jmp .Laa_done

# conn_reset: rdi = conn. Clears the per-request fields for a new request.
# Clobbers nothing else (rax).
conn_reset:
    xor eax, eax
    mov dword ptr [rdi + C_FLAGS], eax
    mov qword ptr [rdi + C_IN_POS], rax
    mov qword ptr [rdi + C_SCAN], rax
    mov qword ptr [rdi + C_CL], rax
    mov dword ptr [rdi + C_HOSTS], eax
    mov dword ptr [rdi + C_METHOD], eax
    mov qword ptr [rdi + C_FILE_LEFT], rax
    mov dword ptr [rdi + C_META], eax
    mov dword ptr [rdi + C_CC_LEN], eax
    mov dword ptr [rdi + C_COND], eax
    mov dword ptr [rdi + C_WH + WH_COND], eax  # (write_conds sets it)
    mov dword ptr [rdi + C_IM_N], eax
    mov dword ptr [rdi + C_INM_N], eax
    ret

# conn_drive: rdi = an open conn. Runs its state machine until it waits for
# the socket, closes, or spends its budget (then it is queued to run again).
# Clobbers the caller-saved registers.
conn_drive:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12d, DRIVE_BUDGET
.Lcd_step:
    mov rdi, rbx
    mov eax, dword ptr [rbx + C_STATE]
    cmp eax, ST_HEAD
    je 1f
    cmp eax, ST_BODY
    je 2f
    cmp eax, ST_WRITE
    je 3f
    cmp eax, ST_DONE
    je 4f
    cmp eax, ST_COMMIT                    # nothing to do until the group commit
    je .Lcd_out
    cmp eax, ST_LIST
    je 6f
    cmp eax, ST_BACKUP
    je 8f
    call linger_step
    jmp 5f
8:  call backup_step
    jmp 5f
6:  call list_step
    cmp eax, STEP_YIELD                   # a long step: the others first
    je 7f
    jmp 5f
1:  call head_step
    jmp 5f
2:  call body_step
    jmp 5f
3:  call write_step
    jmp 5f
4:  call done_step
5:  cmp eax, STEP_GO
    jne .Lcd_out
    dec r12d
    jnz .Lcd_step
7:  cmp dword ptr [rbx + C_QUEUED], 0
    jne .Lcd_out
    mov eax, dword ptr [rip + w_ready_n]
    cmp eax, MAX_FDS                      # cannot be full (run_ready says why);
    jae .Lcd_out                          # were it, no write past its end
    mov dword ptr [rbx + C_QUEUED], 1
    mov ecx, dword ptr [rbx + C_FD]
    mov rdx, qword ptr [rip + w_ready]
    mov dword ptr [rdx + rax*4], ecx
    inc eax
    mov dword ptr [rip + w_ready_n], eax
.Lcd_out:
    pop r13
    pop r12
    pop rbx
    ret

# head_step: rdi = conn in ST_HEAD. Parses a complete buffered head, or reads more.
# Returns eax = STEP_*. Clobbers the caller-saved registers.
head_step:
    push rbx
    mov rbx, rdi
    # empty lines before a request line are ignored (RFC 9112 2.2), however
    # their bytes are split across reads: a CR alone may be the start of one
    cmp qword ptr [rbx + C_SCAN], 0
    jne 2f
1:  mov rax, qword ptr [rbx + C_IN_POS]
    lea rcx, [rax + 2]
    cmp rcx, qword ptr [rbx + C_IN_LEN]
    ja 7f
    mov rdx, qword ptr [rbx + C_IN_BUF]   # bytes are held: so is a buffer
    cmp word ptr [rdx + rax], 0x0a0d
    jne 2f
    mov qword ptr [rbx + C_IN_POS], rcx
    jmp 1b
7:  dec rcx                               # one byte held: wait if it is a CR
    cmp rcx, qword ptr [rbx + C_IN_LEN]
    jne 2f
    mov rdx, qword ptr [rbx + C_IN_BUF]
    cmp byte ptr [rdx + rax], CR
    je .Lhs_more
2:  mov rdi, rbx
    call find_head_end
    test rax, rax
    jz .Lhs_more
    js .Lhs_bad
    mov qword ptr [rbx + C_HEAD_LEN], rax
    mov rdi, rbx
    call parse_request
    jmp .Lhs_go
.Lhs_bad:
    mov rdi, rbx
    call alog_request_raw
    mov esi, R_400
    jmp .Lhs_fail
.Lhs_more:
    mov rax, qword ptr [rbx + C_IN_LEN]
    sub rax, qword ptr [rbx + C_IN_POS]
    cmp rax, HEAD_MAX
    jae .Lhs_too_large
    cmp qword ptr [rbx + C_IN_LEN], IN_CAP
    jb 3f
    mov rdi, rbx                          # full, but not of this head: compact
    call compact_input
3:  mov rax, -EAGAIN                    # drained: as good as a read saying so
    test dword ptr [rbx + C_RX], RX_DRAINED
    jnz 4f
    mov rdi, rbx
    call inbuf_get
    mov rsi, rax
    mov rax, qword ptr [rbx + C_IN_LEN]
    add rsi, rax
    mov edi, dword ptr [rbx + C_FD]
    mov edx, IN_CAP
    sub rdx, rax
    mov eax, SYS_read
    syscall
    test rax, rax
    jle 4f
    mov rdi, rbx
    call note_short_read
    mov rcx, qword ptr [rbx + C_IN_LEN]
    add qword ptr [rbx + C_IN_LEN], rax
    cmp rcx, qword ptr [rbx + C_IN_POS]   # the first bytes of a head start its clock
    jne .Lhs_go
    mov rdi, rbx
    mov rsi, qword ptr [rip + cfg_request_timeout]
    call set_deadline
    mov rdi, rbx
    call alog_begin
.Lhs_go:
    mov eax, STEP_GO
    pop rbx
    ret
4:  cmp rax, -EAGAIN
    jne .Lhs_close
    cmp dword ptr [rip + w_stopping], 0   # stopping: an idle connection ends here
    je 5f
    mov rax, qword ptr [rbx + C_IN_LEN]
    cmp rax, qword ptr [rbx + C_IN_POS]
    je .Lhs_close
5:  mov rax, qword ptr [rbx + C_IN_LEN]
    cmp rax, qword ptr [rbx + C_IN_POS]
    jne 6f
    mov rdi, rbx                          # idle between requests: lend the buffer out
    call inbuf_put
6:  mov eax, STEP_WAIT
    pop rbx
    ret
.Lhs_close:
    cmp rax, -EINTR
    je .Lhs_go
    mov rdi, rbx                          # end of stream or reset: the client left
    call conn_close
    mov eax, STEP_CLOSED
    pop rbx
    ret
.Lhs_too_large:
    # no line end at all in HEAD_MAX bytes: the request line (its URI) is too long
    mov rdi, rbx
    call alog_request_raw
    mov rdi, qword ptr [rbx + C_IN_BUF]
    add rdi, qword ptr [rbx + C_IN_POS]
    mov ecx, HEAD_MAX
    mov al, LF
    repne scasb
    mov esi, R_431
    je .Lhs_fail
    mov esi, R_414
.Lhs_fail:
    mov rdi, rbx
    call fail
    jmp .Lhs_go

# note_short_read: rdi = conn, rax = bytes a read returned, rdx = bytes asked.
# Counts them as received. A short read emptied the socket: until the next
# input event there is nothing to read (unless the peer has closed, which
# brings no further event).
# Clobbers nothing.
.globl note_short_read
note_short_read:
    push rcx                              # the bytes count as received (metrics)
    CONN_STATS rdi
    add qword ptr [rcx + ST_IN], rax
    pop rcx
    cmp rax, rdx
    jae 1f
    test dword ptr [rdi + C_RX], RX_PEER_DONE
    jnz 1f
    or dword ptr [rdi + C_RX], RX_DRAINED
1:  ret

# compact_input: rdi = conn. Moves the unconsumed input to the start of its
# buffer (none is needed when there is no input). Clobbers rax, rcx, rdx, rsi, rdi.
compact_input:
    mov rdx, qword ptr [rdi + C_IN_LEN]
    mov rax, qword ptr [rdi + C_IN_POS]
    sub rdx, rax
    mov qword ptr [rdi + C_IN_LEN], rdx
    mov qword ptr [rdi + C_IN_POS], 0
    mov rdi, qword ptr [rdi + C_IN_BUF]
    lea rsi, [rdi + rax]
    jmp copy                              # forward copy: safe with dst < src

# write_step: rdi = conn in ST_WRITE. Sends the head in C_OUT, then the value
# file with sendfile, as far as the socket takes them.
# Returns eax = STEP_*. Clobbers the caller-saved registers.
write_step:
    push rbx
    mov rbx, rdi
    mov rax, qword ptr [rbx + C_OUT_POS]
    mov rdx, qword ptr [rbx + C_OUT_LEN]
    sub rdx, rax
    jz .Lws_file
    mov edi, dword ptr [rbx + C_FD]
    lea rsi, [rbx + rax + C_OUT]
    mov r10d, MSG_NOSIGNAL                # a body follows: let it share packets
    cmp qword ptr [rbx + C_FILE_LEFT], 0
    je 1f
    or r10d, MSG_MORE
1:  xor r8d, r8d
    xor r9d, r9d
    mov eax, SYS_sendto
    syscall
    test rax, rax
    js .Lws_error
    add qword ptr [rbx + C_OUT_POS], rax
    CONN_STATS rbx
    add qword ptr [rcx + ST_OUT], rax
    mov rdi, rbx
    call alog_sent
    jmp .Lws_progress
.Lws_file:
    mov rdx, qword ptr [rbx + C_FILE_LEFT]
    test rdx, rdx
    jnz 4f
    test dword ptr [rbx + C_FLAGS], F_FILE2  # a second range: a 206 of a value
    jz .Lws_done                          # with metadata (its block was the first)
    and dword ptr [rbx + C_FLAGS], ~F_FILE2
    mov rdx, qword ptr [rbx + C_RANGE_B]
    mov qword ptr [rbx + C_FILE_LEFT], rdx
    mov rax, qword ptr [rbx + C_RANGE_A]  # from where the first ended (the block's
    add qword ptr [rbx + C_FILE_OFF], rax # end, the value's start) on
    test rdx, rdx
    jz .Lws_done
4:
    cmp rdx, SENDFILE_MAX
    jbe 2f
    mov edx, SENDFILE_MAX
2:  mov r10, rdx
    mov edi, dword ptr [rbx + C_FD]
    mov esi, dword ptr [rbx + C_GET_FD]
    lea rdx, [rbx + C_FILE_OFF]
    mov eax, SYS_sendfile
    syscall
    test rax, rax
    js .Lws_error
    jz .Lws_close                         # the file shrank under us: cannot finish
    sub qword ptr [rbx + C_FILE_LEFT], rax
    CONN_STATS rbx
    add qword ptr [rcx + ST_OUT], rax
    mov rdi, rbx
    call alog_sent
.Lws_progress:
    mov rdi, rbx                          # the client is reading: restart its stall clock
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
.Lws_go:
    mov eax, STEP_GO
    pop rbx
    ret
.Lws_done:
    mov dword ptr [rbx + C_GET_FD], -1    # a segment: the process keeps it open
    cmp dword ptr [rbx + C_NEXT], ST_LIST # (a listing is logged at its end)
    je 3f
    mov rdi, rbx
    call alog_done
3:  mov eax, dword ptr [rbx + C_NEXT]
    mov dword ptr [rbx + C_STATE], eax
    jmp .Lws_go
.Lws_error:
    cmp rax, -EINTR
    je .Lws_go
    cmp rax, -EAGAIN
    jne .Lws_close
    mov eax, STEP_WAIT
    pop rbx
    ret
.Lws_close:
    mov rdi, rbx
    call conn_close
    mov eax, STEP_CLOSED
    pop rbx
    ret

# done_step: rdi = conn whose response is sent. Closes (or lingers) if the
# connection is not to be kept; else starts on the next (perhaps pipelined)
# request. Returns eax = STEP_*. Clobbers the caller-saved registers.
done_step:
    push rbx
    mov rbx, rdi
    mov eax, dword ptr [rbx + C_FLAGS]
    test eax, F_CLOSE
    jnz 2f
    cmp dword ptr [rip + w_stopping], 0
    jne 3f
    mov rdi, rbx
    call compact_input
    mov rdi, rbx
    call conn_reset
    mov dword ptr [rbx + C_STATE], ST_HEAD
    mov rsi, qword ptr [rip + cfg_idle_timeout]
    cmp qword ptr [rbx + C_IN_LEN], 0     # a pipelined head has begun already
    je 4f
    mov rsi, qword ptr [rip + cfg_request_timeout]
    mov rdi, rbx
    call alog_begin
    mov rsi, qword ptr [rip + cfg_request_timeout]
4:  mov rdi, rbx
    call set_deadline
1:  mov eax, STEP_GO
    pop rbx
    ret
2:  # Closing after a whole answer, error or not, the server lingers: a close
    # with input unread (pipelined requests after a "Connection: close" one,
    # in the buffer or still in the kernel, whatever epoll said of the peer)
    # resets the connection and can destroy the answer in flight. A client
    # that has finished costs one read that sees its end.
    cmp dword ptr [rip + w_stopping], 0
    jne 3f
    mov edi, dword ptr [rbx + C_FD]
    mov esi, SHUT_WR                      # the answer is complete: send FIN
    mov eax, SYS_shutdown
    syscall
    test rax, rax
    js 3f
    mov qword ptr [rbx + C_BODY_TOTAL], 0 # counts discarded bytes
    mov dword ptr [rbx + C_STATE], ST_LINGER
    mov rdi, rbx
    mov esi, LINGER_TIMEOUT
    call set_deadline
    jmp 1b
3:  mov rdi, rbx
    call conn_close
    mov eax, STEP_CLOSED
    pop rbx
    ret

# linger_step: rdi = conn in ST_LINGER. Reads and drops input until the client
# closes or LINGER_MAX bytes have been dropped. Returns eax = STEP_*.
# Clobbers the caller-saved registers.
linger_step:
    push rbx
    mov rbx, rdi
    call inbuf_get
    mov rsi, rax
    mov edi, dword ptr [rbx + C_FD]
    mov edx, IN_CAP
    mov eax, SYS_read
    syscall
    test rax, rax
    jle 1f
    add rax, qword ptr [rbx + C_BODY_TOTAL]
    mov qword ptr [rbx + C_BODY_TOTAL], rax
    cmp rax, LINGER_MAX
    ja 3f
    mov eax, STEP_GO
    pop rbx
    ret
1:  cmp rax, -EINTR
    je 2f
    cmp rax, -EAGAIN
    jne 3f
    mov eax, STEP_WAIT
    pop rbx
    ret
2:  mov eax, STEP_GO
    pop rbx
    ret
3:  mov rdi, rbx
    call conn_close
    mov eax, STEP_CLOSED
    pop rbx
    ret

# set_deadline: rdi = conn, rsi = seconds from now. Clobbers rax.
# w_now is whole seconds as of the last tick, up to a second old, and a tick
# sees a whole second that may have begun just after it: two seconds more keep
# a timeout from ever firing early (it fires S to S+2 seconds from now).
.globl set_deadline
set_deadline:
    mov rax, qword ptr [rip + w_now]
    lea rax, [rax + rsi + DEADLINE_SLACK]
    mov qword ptr [rdi + C_DEADLINE], rax
    ret

# tick_event: the tick timer fired. Consumes its expiries (it is level-
# triggered) and ticks if the second has not been ticked yet (round_clock may
# have done it). Clobbers the caller-saved registers.
tick_event:
    sub rsp, 24
    mov edi, dword ptr [rip + w_timerfd]
    mov rsi, rsp
    mov edx, 8
    mov eax, SYS_read                     # the expiry count; EAGAIN if none
    syscall
    add rsp, 24
    cmp qword ptr [rip + vdso_gettime], 0
    je on_tick                            # (no vDSO: every event of the timer ticks)
    jmp round_clock

# round_clock: (each round of the event loop) reads the clock through the
# vDSO (no system call): the access log's time (alog_now), and the tick once
# a new second of the real-time clock has begun. The timer's own event is not
# enough: epoll hands out at most MAX_EVENTS events a round, and behind
# thousands of connections' the timer's can wait dozens of rounds, while the
# deadlines are counted in the tick's seconds (w_now): a tick seconds late
# then found every connection that had made progress meanwhile past its
# deadline at once. Clobbers the caller-saved registers.
round_clock:
    cmp qword ptr [rip + vdso_gettime], 0 # without the vDSO the clock is a system
    je .Lrc_timer                         # call: the timer's event alone ticks then
    sub rsp, 24
    call alog_now
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    call clock_now                        # cannot fail with a valid clock and buffer
    mov rax, qword ptr [rsp]
    add rsp, 24
    cmp rax, qword ptr [rip + w_unix]     # the second the last tick was for
    jne on_tick
    ret
.Lrc_timer:
    jmp alog_now

# on_tick: every second. Refreshes the clock and the Date, and ends what has
# outlived its deadline: an idle connection is closed; a request whose head or
# body stalls gets 408 and is closed; a stalled answer or drain is closed.
# Clobbers the caller-saved registers.
on_tick:
    push rbx
    push r12
    sub rsp, 24                           # (calls aligned)
    call clock_tick
    call seg_sweep
    call backup_tick                      # (may drive a backup's connection)
    call log_counted
    call alog_tick
    mov rbx, qword ptr [rip + w_table]
    xor r12d, r12d
.Lot_next:
    cmp r12d, dword ptr [rip + w_maxfd]
    ja .Lot_out
    mov eax, dword ptr [rbx + C_STATE]
    cmp eax, ST_FREE
    je .Lot_step
    cmp eax, ST_COMMIT                    # the flusher has it: hands off
    je .Lot_step
    mov rcx, qword ptr [rip + w_now]
    cmp rcx, qword ptr [rbx + C_DEADLINE]
    jb .Lot_step
    CONN_STATS rbx                        # a metrics connection's apart
    mov rdx, rcx
    cmp eax, ST_BODY
    je .Lot_body
    cmp eax, ST_HEAD
    jne .Lot_send
    mov rcx, qword ptr [rbx + C_IN_LEN]
    cmp rcx, qword ptr [rbx + C_IN_POS]
    jne .Lot_head
    inc qword ptr [rdx + ST_TIMEOUTS]     # idle between requests: just close
    jmp .Lot_close
.Lot_send:
    inc qword ptr [rdx + ST_TIMEOUTS + 24] # an answer (or a drain) stalled
    jmp .Lot_close
.Lot_head:
    inc qword ptr [rdx + ST_TIMEOUTS + 8]
    mov rdi, rbx
    call alog_request_raw
    jmp .Lot_408
.Lot_body:
    inc qword ptr [rdx + ST_TIMEOUTS + 16]
    mov rdi, rbx
    call abort_upload
.Lot_408:
    mov rdi, rbx
    mov esi, R_408
    call fail
    mov rdi, rbx
    call conn_drive
    jmp .Lot_step
.Lot_close:
    mov rdi, rbx
    call conn_close
.Lot_step:
    add rbx, CONN_SIZE
    inc r12d
    jmp .Lot_next
.Lot_out:
    add rsp, 24
    pop r12
    pop rbx
    ret

# conn_close: rdi = an open conn. Drops any unfinished upload (the old value
# stays), closes its files and socket (which leaves the epoll set), frees the slot.
# Clobbers rax, rcx, rdx, rsi, rdi, r11.
.globl conn_close
conn_close:
    push rbx
    mov rbx, rdi
    call abort_upload                     # (if it has one)
    mov dword ptr [rbx + C_GET_FD], -1    # a segment: the process keeps it open
    mov rdi, rbx
    call alog_done                        # an answer cut short is logged too
    mov rdi, rbx
    call backup_release                   # (before its state goes)
    mov rdi, rbx
    call list_free
    mov rdi, rbx
    call inbuf_put
    mov edi, dword ptr [rbx + C_FD]
    mov eax, SYS_close                    # nothing of ours is left unsent to lose
    syscall
    mov dword ptr [rbx + C_STATE], ST_FREE
    dec qword ptr [rip + w_active]
    test dword ptr [rbx + C_RX], RX_METRICS
    jz 1f
    dec qword ptr [rip + w_scrapers]
1:  call stat_open
    pop rbx
    ret

# begin_stop: on a signal: SIGUSR1 reopens the access log; SIGTERM/SIGINT
# stop accepting, close idle connections and let the others finish their
# current request (they close after it).
# Clobbers the caller-saved registers.
begin_stop:
    sub rsp, SIGNALFD_INFO_SIZE + 8
    mov edi, dword ptr [rip + w_sigfd]
    mov rsi, rsp
    mov edx, SIGNALFD_INFO_SIZE
    mov eax, SYS_read                     # consume it; EAGAIN if already read
    syscall
    mov ecx, dword ptr [rsp]              # ssi_signo
    add rsp, SIGNALFD_INFO_SIZE + 8
    cmp rax, SIGNALFD_INFO_SIZE
    jne 7f
    cmp ecx, SIGUSR1
    jne 7f
    jmp alog_reopen                       # not a stop: the access log's rotation
7:
    cmp dword ptr [rip + w_stopping], 0
    jne 3f
    mov dword ptr [rip + w_stopping], 1
    sub rsp, 24                           # the listener is shared: remove it by hand
    mov edi, dword ptr [rip + w_epfd]
    mov esi, EPOLL_CTL_DEL
    mov edx, dword ptr [rip + listen_fd]
    mov r10, rsp
    mov eax, SYS_epoll_ctl
    syscall
    add rsp, 24
    mov edi, dword ptr [rip + listen_fd]
    mov eax, SYS_close
    syscall
    mov edx, dword ptr [rip + metrics_fd]
    test edx, edx
    js 6f
    sub rsp, 24
    mov edi, dword ptr [rip + w_epfd]
    mov esi, EPOLL_CTL_DEL
    mov r10, rsp
    mov eax, SYS_epoll_ctl
    syscall
    add rsp, 24
    mov edi, dword ptr [rip + metrics_fd]
    mov eax, SYS_close
    syscall
6:  push rbx
    push r12
    mov rbx, qword ptr [rip + w_table]
    xor r12d, r12d
1:  cmp r12d, dword ptr [rip + w_maxfd]  # slots above were never touched
    ja 2f
    cmp qword ptr [rip + w_active], 0
    je 2f
    mov eax, dword ptr [rbx + C_STATE]
    cmp eax, ST_FREE
    je 4f
    cmp eax, ST_COMMIT                    # the flusher's until its "done": hands off
    je 4f                                 # (done_step closes it, w_stopping being set)
    or dword ptr [rbx + C_FLAGS], F_CLOSE
    cmp eax, ST_LINGER
    je 5f
    cmp eax, ST_HEAD
    jne 4f
    mov rax, qword ptr [rbx + C_IN_LEN]
    cmp rax, qword ptr [rbx + C_IN_POS]
    jne 4f
5:  mov rdi, rbx
    call conn_close
4:  add rbx, CONN_SIZE
    inc r12d
    jmp 1b
2:  pop r12
    pop rbx
3:  ret

.section .rodata
stop_sigset:       .quad WORKER_SIGNALS   # stop; SIGUSR1: reopen the access log
dev_null:          .asciz "/dev/null"
msg_worker_failed: .ascii "a worker could not start its event loop"
.equ msg_worker_failed_len, . - msg_worker_failed

.bss
.p2align 3
.globl w_stat, w_pid, w_seq, w_stopping
w_table:    .space 8           # connection table, MAX_FDS slots
w_active:   .space 8           # open connections
w_scrapers: .space 8           # of those, on the metrics socket (RX_METRICS)
w_seq:      .space 8           # numbers this worker's temporary files
w_epfd:     .space 4
w_sigfd:    .space 4
w_timerfd:  .space 4           # the one-second tick (clock.s)
w_spare:    .space 4           # reserve descriptor for EMFILE, or negative
w_pid:      .space 4
w_stopping: .space 4           # 1 after SIGTERM/SIGINT
w_ready_n:  .space 4           # entries in the ready list being filled
w_maxfd:    .space 4           # highest connection fd so far
w_stat:     .space STAT_SIZE   # fstat results (one worker, one thread)
w_peer_len: .space 4           # accept's room for the client's address
.p2align 3
w_peer:     .space SOCKADDR_MAX
.p2align 3
w_events:   .space MAX_EVENTS * EPOLL_EVENT_SIZE
w_ready:    .space 8           # the ready list being filled: w_ready_a or w_ready_b
.p2align 3
w_ready_a:  .space MAX_FDS * 4 # fds that spent their budget, to run again; one
w_ready_b:  .space MAX_FDS * 4 # entry per fd at most, and fds are below MAX_FDS
.text
