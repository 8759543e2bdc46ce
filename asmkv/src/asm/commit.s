# commit.s - making completed uploads the keys' values, durably and in groups.
#
# With --sync always an upload whose body is complete is not committed at
# once: it waits on the worker's commit list, and the uploads gathered there
# are committed together, as a group, by the worker's flusher thread:
#   1. each file's data is flushed (fdatasync; its writeback was started with
#      sync_file_range when its body completed, so the flushes overlap),
#   2. each file is renamed over its key, never before its own data is durable,
#   3. the directory is flushed once for the whole group,
#   4. the flusher tells the worker, and every client of the group gets its
#      201 or 204 from the worker.
# Flushes block; in the flusher they block nobody but the group, while the
# worker goes on serving reads and receiving uploads, which gather into the
# next group. One group is with the flusher at a time.
# A crash at any point leaves every key with its old value or its new one, and
# no 2xx is sent for a value whose name is not yet durable. A DELETE joins
# the group too: the worker unlinks the key, and the 204 waits for the
# group's directory flush.
# With --sync none a completed upload is renamed and answered at once.
.text

# finish_upload: rdi = conn whose whole body is in its temporary file.
# Queues it for the group commit (--sync always) or commits it now.
# Clobbers the caller-saved registers.
.globl finish_upload
finish_upload:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    je log_finish_upload
    cmp dword ptr [rip + cfg_sync], 0
    je commit_now
    push rbx
    mov rbx, rdi
    mov edi, dword ptr [rbx + C_UP_FD]
    xor esi, esi
    xor edx, edx                          # offset 0, length 0: the whole file
    mov r10d, SYNC_FILE_RANGE_WRITE
    mov eax, SYS_sync_file_range          # only starts writeback: fdatasync reports errors
    syscall
    mov rdi, rbx
    mov esi, COMMIT_WRITTEN
    pop rbx
    jmp commit_enqueue

# commit_enqueue: rdi = conn, esi = what is to be committed: COMMIT_WRITTEN
# (an upload) or COMMIT_UNLINKED (a delete). Puts the conn in ST_COMMIT on
# the commit list, to be part of the next group. Clobbers rax, rcx.
.globl commit_enqueue
commit_enqueue:
    mov qword ptr [rdi + C_COMMIT], rsi
    mov dword ptr [rdi + C_STATE], ST_COMMIT
    mov eax, dword ptr [rip + w_commit_n]
    lea rcx, [rip + w_commit]
    mov qword ptr [rcx + rax*8], rdi
    inc eax
    mov dword ptr [rip + w_commit_n], eax
    ret

# commit_now: rdi = conn with a complete upload, --sync none.
# Closes the file, renames it over the key and answers 201/204 (500/507 on
# failure, the old value kept). Clobbers the caller-saved registers.
commit_now:
    push rbx
    mov rbx, rdi
    mov edi, dword ptr [rbx + C_UP_FD]
    mov dword ptr [rbx + C_UP_FD], -1
    mov eax, SYS_close
    syscall
    test rax, rax
    js 1f
    mov rdi, rbx
    call rename_upload
    test rax, rax
    js 1f
    mov esi, eax
    mov rdi, rbx
    call respond
    pop rbx
    ret
1:  mov rdi, rbx
    mov rsi, rax
    call reject_upload
    pop rbx
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

# commit_done: on the flusher's "done" event. Answers every upload of the
# group by its outcome (C_COMMIT) and sends what the socket takes now, then
# hands the flusher the uploads that completed meanwhile.
# Clobbers the caller-saved registers.
.globl commit_done
commit_done:
    push rbx
    push r12
    push r13
    sub rsp, 8
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
    mov rsi, qword ptr [rbx + C_COMMIT]
    mov rdi, rbx
    test rsi, rsi
    js 2f
    call respond
    mov rdi, rbx
    call conn_drive
    jmp 1b
2:  call reject_upload
    mov rdi, rbx
    call conn_drive
    jmp 1b
3:  mov dword ptr [rip + w_group_n], 0
    add rsp, 8
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
    mov edi, CLONE_THREAD_FLAGS
    lea rsi, [rip + flusher_stack_top]
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    mov eax, SYS_clone
    syscall
    test rax, rax
    jz flusher_main                       # the new thread, on its own stack
1:  ret

# flusher_main: the flusher thread; never returns. Waits for a group, makes it
# durable (steps 1 to 3 at the top of this file), and tells the worker. It
# shares the worker's memory and descriptors, and touches only the group's
# connections, which the worker leaves alone while they are in ST_COMMIT.
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

# flush_group: (flusher thread) for every upload of the group: flush its data
# and close it, rename it over its key; then flush the directory once, for
# those renames and for the group's deletes (unlinked by the worker).
# Leaves each outcome in C_COMMIT: R_201/R_204, or -errno.
# Clobbers the caller-saved registers.
flush_group:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    je flush_group_log
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov r13d, dword ptr [rip + w_group_n]
    # 1. flush each file's data, then close it
    xor r12d, r12d
1:  cmp r12d, r13d
    jae 2f
    call .Lfg_conn
    cmp qword ptr [rbx + C_COMMIT], COMMIT_UNLINKED
    je 4f                                 # a delete: only the directory to flush
    mov qword ptr [rbx + C_COMMIT], COMMIT_FLUSHED
    mov edi, dword ptr [rbx + C_UP_FD]
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    jns 3f
    mov qword ptr [rbx + C_COMMIT], rax
3:  mov edi, dword ptr [rbx + C_UP_FD]
    mov dword ptr [rbx + C_UP_FD], -1
    mov eax, SYS_close
    syscall
    test rax, rax
    jns 4f
    mov qword ptr [rbx + C_COMMIT], rax
4:  inc r12d
    jmp 1b
    # 2. rename each flushed file over its key
2:  xor r12d, r12d
    xor r14d, r14d                        # renamed or unlinked
5:  cmp r12d, r13d
    jae 6f
    call .Lfg_conn
    inc r12d
    cmp qword ptr [rbx + C_COMMIT], COMMIT_UNLINKED
    jne 9f
    mov qword ptr [rbx + C_COMMIT], R_204
    inc r14d
    jmp 5b
9:  cmp qword ptr [rbx + C_COMMIT], COMMIT_FLUSHED
    jne 5b
    mov rdi, rbx
    call rename_upload
    mov qword ptr [rbx + C_COMMIT], rax
    test rax, rax
    js 5b
    inc r14d
    jmp 5b
    # 3. one directory flush for every rename of the group
6:  test r14d, r14d
    jz 8f
    call sync_dir
    test rax, rax
    jns 8f
    mov r14, rax
    xor r12d, r12d                        # renamed but not durable: do not acknowledge
7:  cmp r12d, r13d
    jae 8f
    call .Lfg_conn
    inc r12d
    cmp qword ptr [rbx + C_COMMIT], 0
    jl 7b
    mov qword ptr [rbx + C_COMMIT], r14
    jmp 7b
8:  add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# .Lfg_conn: rbx = w_group[r12] (a local helper of flush_group).
.Lfg_conn:
    lea rax, [rip + w_group]
    mov rbx, qword ptr [rax + r12*8]
    ret

# flush_group_log: (flusher thread) the log engine's group commit: one
# fdatasync of each segment the group's records are in (normally just the
# worker's active one), then each record is published in the index. Leaves
# each outcome in C_COMMIT: R_201/R_204/R_404, or -errno.
# Clobbers the caller-saved registers.
flush_group_log:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r13d, dword ptr [rip + w_group_n]
    mov r14d, -1                          # the segment flushed last, and how it went
    xor r15d, r15d
    xor r12d, r12d
1:  cmp r12d, r13d
    jae 4f
    call .Lfg_conn
    inc r12d
    mov edi, dword ptr [rbx + C_UP_FD]
    cmp edi, r14d
    je 2f                                 # flushed after this record was written
    mov r14d, edi
    mov eax, SYS_fdatasync
    syscall
    mov r15, rax
2:  mov qword ptr [rbx + C_COMMIT], r15
    test r15, r15
    js 1b
    mov rdi, rbx
    call log_publish
    mov qword ptr [rbx + C_COMMIT], rax
    jmp 1b
4:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# rename_upload: rdi = conn whose temporary file is closed.
# Renames it over the key, creating the key only if absent, which tells new
# from replaced atomically. With If-None-Match: * it only creates: R_412 (and
# the upload dropped) if the key exists. Returns rax = R_201, R_204 or R_412,
# or -errno.
# Clobbers the caller-saved registers.
rename_upload:
    push rbx
    push r12
    sub rsp, STAT_SIZE + 8                # the probe's stat: w_stat is the worker's
    mov rbx, rdi
    call .Lru_paths
    mov r8d, RENAME_NOREPLACE
    mov eax, SYS_renameat2
    syscall
    mov r12d, R_201
    test rax, rax
    jz .Lru_renamed
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jnz .Lru_create_only
    cmp rax, -EINVAL                      # a file system without RENAME_NOREPLACE
    je .Lru_probe
    cmp rax, -EEXIST
    jne .Lru_out
.Lru_replace:
    mov r12d, R_204
.Lru_rename:
    call .Lru_paths
    mov eax, SYS_renameat
    syscall
    test rax, rax
    js .Lru_out
.Lru_renamed:
    mov byte ptr [rbx + C_TMP], 0         # nothing left to clean up
    mov eax, r12d
.Lru_out:
    add rsp, STAT_SIZE + 8
    pop r12
    pop rbx
    ret
.Lru_probe:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_NAME]
    mov rdx, rsp
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    test rax, rax
    jns .Lru_replace
    mov r12d, R_201
    jmp .Lru_rename
# If-None-Match: * - the key is created only if absent, atomically: the rename
# above may not replace, or (where the file system lacks that) a hard link,
# which never replaces; then the temporary name is removed. rax = the
# rename's error.
.Lru_create_only:
    cmp rax, -EINVAL
    jne 1f
    call .Lru_paths
    xor r8d, r8d
    mov eax, SYS_linkat
    syscall
    test rax, rax
    jz 2f
1:  cmp rax, -EEXIST
    jne .Lru_out
    mov r12d, R_412                       # the key exists: the upload is dropped
2:  mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    jmp .Lru_renamed
# .Lru_paths: rbx = conn. The arguments from its temporary name to its key's
# name, in the data directory: edi, rsi, edx, r10 (a helper of rename_upload).
.Lru_paths:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    mov edx, edi
    lea r10, [rbx + C_NAME]
    ret

# reject_upload: rdi = conn whose request was read whole, rsi = -errno of the
# failed step. Drops the upload (the old value stays) and answers 507 or 500;
# the framing is intact, so the connection stays usable.
# Clobbers the caller-saved registers.
reject_upload:
    push rbx
    push r12
    mov rbx, rdi
    mov r12, rsi
    call abort_upload
    mov rdi, r12
    call io_kind
    mov esi, eax
    mov rdi, rbx
    call respond
    pop r12
    pop rbx
    ret

.bss
.p2align 4
flusher_stack:     .space FLUSHER_STACK
flusher_stack_top:
.globl w_done_fd
w_commit:   .space MAX_FDS * 8     # completed uploads gathering for the next group
w_group:    .space MAX_FDS * 8     # the group with the flusher
w_commit_n: .space 4
w_group_n:  .space 4               # 0: the flusher is idle
w_go_fd:    .space 4               # eventfd: worker -> flusher, "a group is ready"
w_done_fd:  .space 4               # eventfd: flusher -> worker, "the group is durable"
.text
