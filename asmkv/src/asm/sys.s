# sys.s - reserved memory, blocking-I/O wrappers and startup error reporting.
.text

# reserve_memory: rdi = bytes. Maps that much private memory, reserved but not
# committed: pages come (zeroed) when first touched.
# Returns rax = the address, or -errno. Clobbers rcx, rdx, rsi, rdi, r8, r9, r10, r11.
.globl reserve_memory
reserve_memory:
    mov rsi, rdi
    xor edi, edi
    mov edx, PROT_RW
    mov r10d, MAP_PRIVATE_ANON_NORESERVE
    mov r8, -1
    xor r9d, r9d
    mov eax, SYS_mmap
    syscall
    ret

# random_fill: rdi = where, esi = how many bytes (at most 256). Fills them
# from getrandom (which waits, once after boot, for the kernel's pool):
# EINTR is retried and a short read goes on for the rest.
# Returns rax = 0 or -errno. Clobbers rcx, rdx, rsi, rdi, r8, r9, r11.
.globl random_fill
random_fill:
    mov r8, rdi
    mov r9d, esi                          # bytes still to draw
1:  mov rdi, r8
    mov esi, r9d
    xor edx, edx
    mov eax, SYS_getrandom
    syscall
    cmp rax, -EINTR
    je 1b
    test rax, rax
    js 2f
    jz 3f                                 # 0 would never end: a failure too
    add r8, rax
    sub r9d, eax
    jnz 1b
    xor eax, eax
    ret
3:  mov rax, -EIO
2:  ret

# thread_start: rdi = the new thread's code (never returns), rsi = the top of
# its stack (16-byte aligned; the code is jumped to there, not called).
# Starts a thread of this process (shared memory, descriptors and signal
# mask). Returns rax = its id, or -errno, in the calling thread.
# Clobbers rcx, rdx, rdi, r8, r9, r10, r11.
.globl thread_start
thread_start:
    mov r9, rdi                           # the new thread starts with our registers
    mov edi, CLONE_THREAD_FLAGS
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    mov eax, SYS_clone
    syscall
    test rax, rax
    jnz 1f
    jmp r9                                # the new thread, on its own stack
1:  ret

# write_all: edi = fd (blocking), rsi = buf, rdx = len.
# Writes every byte, retrying short writes and EINTR.
# Returns rax = 0, or -errno of the first real failure. Clobbers rcx, rdx, rsi, r8, r11.
.globl write_all
write_all:
    mov r8, rdx
1:  test r8, r8
    jz 3f
    mov rdx, r8
    mov eax, SYS_write
    syscall
    test rax, rax
    js 2f
    add rsi, rax
    sub r8, rax
    jmp 1b
2:  cmp rax, -EINTR
    je 1b
    ret
3:  xor eax, eax
    ret

# errno_text: edi = errno (positive). Returns rax = text, rdx = its length.
# Unknown numbers get a generic text. Clobbers rcx.
.globl errno_text
errno_text:
    lea rcx, [rip + errno_table]
1:  mov eax, dword ptr [rcx]
    test eax, eax
    jz 2f
    cmp eax, edi
    je 2f
    add rcx, 24
    jmp 1b
2:  mov rax, qword ptr [rcx + 8]
    mov rdx, qword ptr [rcx + 16]
    ret

# fatal: rdi = message, rsi = its length, rdx = detail (NUL-terminated) or 0,
#        ecx = errno (positive) or 0.
# Writes the error log's line for it (log.s) on stderr and exits 2.
# Among processes that share a word for it (fatal_once: startup's loaders),
# only the first to fail writes its line; the others exit 2 silently.
# Never returns.
.globl fatal
fatal:
    and rsp, -16                          # from anywhere: align for the calls
    mov rax, qword ptr [rip + fatal_once]
    test rax, rax
    jz 1f
    lock bts dword ptr [rax], LOAD_CLAIMED_BIT
    jc 2f                                 # another says why
1:  call log_line
    mov rax, qword ptr [rip + fatal_once]
    test rax, rax
    jz 2f
    lock bts dword ptr [rax], LOAD_SAID_BIT  # said: the master may stop the others
2:  mov edi, EXIT_USAGE
    mov eax, SYS_exit_group
    syscall

.bss
.p2align 3
.globl fatal_once
fatal_once: .space 8                       # a shared word: one fatal line among processes, 0 = none
.text

.section .rodata

.macro ERRNO num, text
    .quad \num
    .quad 1000f
    .quad 1001f - 1000f
    .pushsection .rodata.errno_strings, "a"
1000: .ascii "\text"
1001:
    .popsection
.endm

.p2align 3
errno_table:
    ERRNO EPERM, "operation not permitted"
    ERRNO ENOMEM, "out of memory"
    ERRNO ENOENT, "no such file or directory"
    ERRNO EIO, "input/output error"
    ERRNO EACCES, "permission denied"
    ERRNO EEXIST, "file exists"
    ERRNO ENOTDIR, "not a directory"
    ERRNO EISDIR, "is a directory"
    ERRNO EINVAL, "invalid argument"
    ERRNO EMFILE, "too many open files"
    ERRNO ENOSPC, "no space left on device"
    ERRNO EROFS, "read-only file system"
    ERRNO EADDRINUSE, "address already in use"
    ERRNO EADDRNOTAVAIL, "address not available on this machine"
    ERRNO EDQUOT, "disk quota exceeded"
    ERRNO 0, "system error"
.text
