# commit.s - making completed uploads the keys' values, durably and in groups.
#
# With --sync always an upload whose body is complete is not committed at
# once: it waits on the worker's commit list until the current round of
# events has been handled, and then the whole group is committed together:
#   1. each file's data is flushed (fdatasync; its writeback was started with
#      sync_file_range when its body completed, so the flushes overlap),
#   2. each file is renamed over its key, never before its own data is durable,
#   3. the directory is flushed once for the whole group,
#   4. every client of the group gets its 201 or 204.
# A crash at any point leaves every key with its old value or its new one, and
# no 2xx is sent for a value whose name is not yet durable.
# With --sync none a completed upload is renamed and answered at once.
.text

# finish_upload: rdi = conn whose whole body is in its temporary file.
# Queues it for the group commit (--sync always) or commits it now.
# Clobbers the caller-saved registers.
.globl finish_upload
finish_upload:
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
    mov dword ptr [rbx + C_STATE], ST_COMMIT
    mov eax, dword ptr [rip + w_commit_n]
    lea rcx, [rip + w_commit]
    mov qword ptr [rcx + rax*8], rbx
    inc eax
    mov dword ptr [rip + w_commit_n], eax
    pop rbx
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

# commit_batch: commits every upload on the commit list (see the top of this
# file) and starts sending their answers. Uploads queued while it answers (a
# pipelined PUT) stay on the list for the next round.
# Clobbers the caller-saved registers.
.globl commit_batch
commit_batch:
    push rbx
    push r12
    push r13
    push r14
    mov r13d, dword ptr [rip + w_commit_n]
    # 1. flush each file's data, then close it
    xor r12d, r12d
1:  cmp r12d, r13d
    jae 2f
    call .Lcb_conn
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
    xor r14d, r14d                        # renamed
5:  cmp r12d, r13d
    jae 6f
    call .Lcb_conn
    inc r12d
    cmp qword ptr [rbx + C_COMMIT], COMMIT_FLUSHED
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
    call .Lcb_conn
    inc r12d
    cmp qword ptr [rbx + C_COMMIT], 0
    jl 7b
    mov qword ptr [rbx + C_COMMIT], r14
    jmp 7b
    # 4. answer, and send what the socket takes now
8:  xor r12d, r12d
9:  cmp r12d, r13d
    jae 11f
    call .Lcb_conn
    inc r12d
    mov rsi, qword ptr [rbx + C_COMMIT]
    mov rdi, rbx
    test rsi, rsi
    js 10f
    call respond
    jmp 12f
10: call reject_upload
12: mov rdi, rbx
    call conn_drive
    jmp 9b
    # keep what was queued meanwhile
11: lea rdi, [rip + w_commit]
    lea rsi, [rip + w_commit_n]
    mov edx, r13d
    mov ecx, 3                            # 8-byte entries
    call drop_front
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# .Lcb_conn: rbx = w_commit[r12] (a local helper of commit_batch).
.Lcb_conn:
    lea rax, [rip + w_commit]
    mov rbx, qword ptr [rax + r12*8]
    ret

# rename_upload: rdi = conn whose temporary file is closed.
# Renames it over the key, creating the key only if absent, which tells new
# from replaced atomically. Returns rax = R_201 or R_204, or -errno.
# Clobbers the caller-saved registers.
rename_upload:
    push rbx
    push r12
    mov rbx, rdi
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    mov edx, edi
    lea r10, [rbx + C_NAME]
    mov r8d, RENAME_NOREPLACE
    mov eax, SYS_renameat2
    syscall
    mov r12d, R_201
    test rax, rax
    jz .Lru_renamed
    cmp rax, -EINVAL                      # a file system without RENAME_NOREPLACE
    je .Lru_probe
    cmp rax, -EEXIST
    jne .Lru_out
.Lru_replace:
    mov r12d, R_204
.Lru_rename:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    mov edx, edi
    lea r10, [rbx + C_NAME]
    mov eax, SYS_renameat
    syscall
    test rax, rax
    js .Lru_out
.Lru_renamed:
    mov byte ptr [rbx + C_TMP], 0         # nothing left to clean up
    mov eax, r12d
.Lru_out:
    pop r12
    pop rbx
    ret
.Lru_probe:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_NAME]
    lea rdx, [rip + w_stat]
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    test rax, rax
    jns .Lru_replace
    mov r12d, R_201
    jmp .Lru_rename

# reject_upload: rdi = conn, rsi = -errno of the failed step.
# Drops the upload (the old value stays) and answers 507 or 500, closing.
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
    call fail
    pop r12
    pop rbx
    ret

.bss
.p2align 3
.globl w_commit_n
w_commit:   .space MAX_FDS * 8     # connections waiting for the group commit
w_commit_n: .space 4
.text
