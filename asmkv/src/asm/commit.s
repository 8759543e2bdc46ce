# commit.s - making completed writes durable, in groups, off the event loop.
#
# With --sync always a write whose record is sealed (store.s) is not answered
# at once: it waits on the worker's commit list, and the writes gathered there
# are committed together, as a group, by the worker's flusher thread:
#   1. each segment the group's records are in (normally just the worker's
#      active one) is flushed once: fdatasync, which covers every record
#      written to it before;
#   2. each record is published in the shared index (index.s): from now on
#      every request on every worker sees it;
#   3. the flusher tells the worker, and every client of the group gets its
#      201, 204 (or 404, 412) from the worker.
# The flush blocks; in the flusher it blocks nobody but the group, while the
# worker goes on serving reads and receiving uploads, which gather into the
# next group. One group is with the flusher at a time.
# With --sync none a sealed record is published and answered at once.
.text

# commit_enqueue: rdi = write handle whose record is sealed. Puts it on the
# commit list, to be part of the next group (WH_RESULT = COMMIT_WRITTEN until
# then). Returns rax = COMMIT_WRITTEN. Clobbers rcx, rdx.
.globl commit_enqueue
commit_enqueue:
    mov qword ptr [rdi + WH_RESULT], COMMIT_WRITTEN
    mov edx, dword ptr [rip + w_commit_n]
    lea rcx, [rip + w_commit]
    mov qword ptr [rcx + rdx*8], rdi
    inc edx
    mov dword ptr [rip + w_commit_n], edx
    mov eax, COMMIT_WRITTEN
    ret

# commit_start: called at the end of every round of the worker's loop. If no
# group is with the flusher and uploads wait, they become the next group and
# the flusher is woken. Clobbers the caller-saved registers.
.globl commit_start
commit_start:
    cmp dword ptr [rip + w_group_n], 0    # one group at a time: the next one
    jne 1f                                # gathers meanwhile
    mov edx, dword ptr [rip + w_commit_n]
    test edx, edx
    jz 1f
    mov dword ptr [rip + w_group_n], edx
    mov dword ptr [rip + w_commit_n], 0
    lea rdi, [rip + w_group]
    lea rsi, [rip + w_commit]
    shl rdx, 3
    call copy
    mov edi, dword ptr [rip + w_go_fd]
    call signal_event
    test rax, rax
    js commit_lost
1:  ret

# commit_done: on the flusher's "done" event. Hands each write of the group
# its outcome (WH_RESULT) through its WH_DONE - a write whose flush failed is
# dropped first: sealed and counted, it must never count - then hands the
# flusher the writes that completed meanwhile.
# Clobbers the caller-saved registers.
.globl commit_done
commit_done:
    push rbx
    push r12
    push r13
    sub rsp, 16                           # [rsp]: the count; calls aligned
    mov edi, dword ptr [rip + w_done_fd]
    mov rsi, rsp
    mov edx, 8
    mov eax, SYS_read                     # resets the count; EAGAIN if already read
    syscall
    xor r12d, r12d
    mov r13d, dword ptr [rip + w_group_n]
1:  cmp r12d, r13d
    jae 3f
    lea rax, [rip + w_group]
    mov rbx, qword ptr [rax + r12*8]
    inc r12d
    cmp qword ptr [rbx + WH_RESULT], 0
    jge 2f
    call index_taint                      # sealed and counted, its flush failed
    mov rdi, rbx
    call store_abort
2:  mov rdi, rbx
    mov rsi, qword ptr [rbx + WH_RESULT]
    call qword ptr [rbx + WH_DONE]
    jmp 1b
3:  mov dword ptr [rip + w_group_n], 0
    add rsp, 16
    pop r13
    pop r12
    pop rbx
    jmp commit_start

# commit_lost: the flusher cannot be reached, so no upload could ever be
# answered: the worker exits and the master starts a new one. Never returns.
commit_lost:
    mov edi, 1
    mov eax, SYS_exit_group
    syscall

# signal_event: edi = an eventfd. Adds one to its count.
# Returns rax = 8 or -errno. Clobbers rcx, rdx, rsi, r11.
signal_event:
    push 1
1:  mov rsi, rsp
    mov edx, 8
    mov eax, SYS_write
    syscall
    cmp rax, -EINTR
    je 1b
    add rsp, 8
    ret

# flusher_start: creates the worker's flusher thread and the two eventfds that
# connect them. Returns rax >= 0, or -errno. Clobbers the caller-saved registers.
.globl flusher_start
flusher_start:
    xor edi, edi
    mov esi, EFD_CLOEXEC                  # the flusher blocks on it
    mov eax, SYS_eventfd2
    syscall
    test rax, rax
    js 1f
    mov dword ptr [rip + w_go_fd], eax
    xor edi, edi
    mov esi, EFD_CLOEXEC | EFD_NONBLOCK   # the worker's epoll loop watches it
    mov eax, SYS_eventfd2
    syscall
    test rax, rax
    js 1f
    mov dword ptr [rip + w_done_fd], eax
    lea rdi, [rip + flusher_main]
    lea rsi, [rip + flusher_stack_top]
    jmp thread_start
1:  ret

# flusher_main: the flusher thread; never returns. Waits for a group, makes it
# durable (steps 1 to 3 at the top of this file), and tells the worker. It
# shares the worker's memory and descriptors, and touches only the group's
# write handles, which the worker leaves alone until their group is done.
# Any failure to hear or answer the worker ends the whole worker process.
flusher_main:
    sub rsp, 16
1:  mov edi, dword ptr [rip + w_go_fd]
    mov rsi, rsp
    mov edx, 8
    mov eax, SYS_read
    syscall
    cmp rax, -EINTR
    je 1b
    test rax, rax
    js commit_lost
    call flush_group
    mov edi, dword ptr [rip + w_done_fd]
    call signal_event
    test rax, rax
    js commit_lost
    jmp 1b

# flush_group: (flusher thread) one fdatasync of each segment the group's
# records are in (steps 1 and 2 at the top of this file), then each record is
# published in the index. Leaves each outcome in WH_RESULT: R_201/R_204/R_404,
# or -errno. Clobbers the caller-saved registers.
flush_group:
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rbp
    sub rsp, 40                           # two timespecs
    xor ebp, ebp                          # ns in fdatasync
    mov r13d, dword ptr [rip + w_group_n]
    mov r14d, -1                          # the segment flushed last, and how it went
    xor r15d, r15d
    xor r12d, r12d
1:  cmp r12d, r13d
    jae 4f
    call .Lfg_wh
    inc r12d
    mov edi, dword ptr [rbx + WH_FD]
    cmp edi, r14d
    je 2f                                 # flushed after this record was written
    mov r14d, edi
    mov edi, CLOCK_MONOTONIC
    mov rsi, rsp
    call clock_now                        # cannot fail with a valid clock and buffer
    mov edi, r14d
    mov eax, SYS_fdatasync
    syscall
    mov r15, rax
    mov edi, CLOCK_MONOTONIC
    lea rsi, [rsp + 16]
    call clock_now
    mov rax, qword ptr [rsp + 16]
    sub rax, qword ptr [rsp]
    imul rax, rax, 1000000000
    add rax, qword ptr [rsp + 24]
    sub rax, qword ptr [rsp + 8]
    add rbp, rax
2:  mov qword ptr [rbx + WH_RESULT], r15
    test r15, r15
    jns 3f
    mov rdi, qword ptr [rbx + WH_LOC]     # a failed flush: the cache may hold what
    call loc_entry                        # the disk never got, and a scan of it would
    lock or dword ptr [rax + SG_FLAGS], SGF_LAX  # look whole: no seal (seal.s)
    jmp 1b
3:  mov rdi, rbx
    call store_publish
    mov qword ptr [rbx + WH_RESULT], rax
    jmp 1b
4:  mov edi, r13d
    mov rsi, rbp
    call stat_group
    add rsp, 40
    pop rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# .Lfg_wh: rbx = w_group[r12] (a local helper of flush_group).
.Lfg_wh:
    lea rax, [rip + w_group]
    mov rbx, qword ptr [rax + r12*8]
    ret

.bss
.p2align 4
flusher_stack:     .space FLUSHER_STACK
flusher_stack_top:
.globl w_done_fd
w_commit:   .space MAX_FDS * 8     # write handles of sealed records gathering for the next group
w_group:    .space MAX_FDS * 8     # the group with the flusher
w_commit_n: .space 4
w_group_n:  .space 4               # 0: the flusher is idle
w_go_fd:    .space 4               # eventfd: worker -> flusher, "a group is ready"
w_done_fd:  .space 4               # eventfd: flusher -> worker, "the group is durable"
.text
