# vdso.s - reading the clock without a system call.
#
# The kernel maps a small shared object into every process, the vDSO, whose
# clock_gettime reads the clocks from memory the kernel keeps current: no
# switch into the kernel. asmkv has no dynamic loader, so it finds that
# function itself, once, at startup: the auxiliary vector after the
# environment names the vDSO's ELF header (AT_SYSINFO_EHDR); its dynamic
# section names its symbol, string and hash tables; the symbol
# "__vdso_clock_gettime" is the function. Anything unexpected leaves the
# system call in use. Forked children and threads share the mapping at the
# same address, so the master's finding holds for them.
.text

# vdso_init: rdi = the process's initial stack (argc, argv, NULL, envp, NULL,
# auxv). Sets vdso_gettime if the vDSO has the function.
# Clobbers the caller-saved registers.
.globl vdso_init
vdso_init:
    mov rax, qword ptr [rdi]              # argc
    lea rdi, [rdi + rax*8 + 16]           # envp, after argv and its NULL
1:  mov rax, qword ptr [rdi]
    add rdi, 8
    test rax, rax
    jnz 1b
2:  mov rax, qword ptr [rdi]              # auxv: (type, value) pairs to AT_NULL
    test rax, rax
    jz 9f
    cmp rax, AT_SYSINFO_EHDR
    je 3f
    add rdi, 16
    jmp 2b
3:  mov r8, qword ptr [rdi + 8]           # the vDSO's ELF header
    test r8, r8
    jz 9f
    cmp dword ptr [r8], ELF_MAGIC
    jne 9f
    cmp byte ptr [r8 + EH_CLASS], ELFCLASS64
    jne 9f
    # its program headers: PT_LOAD gives where its addresses are based,
    # PT_DYNAMIC where its dynamic section is
    mov rcx, qword ptr [r8 + EH_PHOFF]
    add rcx, r8
    movzx edx, word ptr [r8 + EH_PHNUM]
    movzx esi, word ptr [r8 + EH_PHENTSIZE]
    xor r9d, r9d                          # the bias: load address - linked address
    xor r10d, r10d                        # the dynamic section
    xor r11d, r11d                        # 1 once a PT_LOAD is seen
4:  test edx, edx
    jz 6f
    mov eax, dword ptr [rcx + PH_TYPE]
    cmp eax, PT_LOAD
    jne 5f
    test r11d, r11d
    jnz 5f
    mov r11d, 1
    mov r9, r8
    add r9, qword ptr [rcx + PH_OFFSET]
    sub r9, qword ptr [rcx + PH_VADDR]
5:  cmp eax, PT_DYNAMIC
    jne 7f
    mov r10, r8
    add r10, qword ptr [rcx + PH_OFFSET]
7:  add rcx, rsi
    dec edx
    jmp 4b
6:  test r11d, r11d
    jz 9f
    test r10, r10
    jz 9f
    # the dynamic section: the tables' linked addresses
    xor ecx, ecx                          # symbols
    xor edx, edx                          # strings
    xor esi, esi                          # the hash table (its nchain: how many symbols)
1:  mov rax, qword ptr [r10]
    test rax, rax                         # DT_NULL
    jz 3f
    mov rdi, qword ptr [r10 + 8]
    add rdi, r9
    cmp rax, DT_SYMTAB
    cmove rcx, rdi
    cmp rax, DT_STRTAB
    cmove rdx, rdi
    cmp rax, DT_HASH
    cmove rsi, rdi
    add r10, 16
    jmp 1b
3:  test rcx, rcx
    jz 9f
    test rdx, rdx
    jz 9f
    test rsi, rsi
    jz 9f
    mov esi, dword ptr [rsi + 4]          # nchain = the number of symbols
    # each symbol: defined (a section), and named __vdso_clock_gettime
4:  test esi, esi
    jz 9f
    dec esi
    cmp word ptr [rcx + SYM_SHNDX], 0
    je 8f
    push rcx
    push rdx
    push rsi
    mov edi, dword ptr [rcx + SYM_NAME]
    add rdi, rdx
    lea rsi, [rip + vdso_name]
    call streq
    pop rsi
    pop rdx
    pop rcx
    test eax, eax
    jz 8f
    mov rax, qword ptr [rcx + SYM_VALUE]
    add rax, r9
    mov qword ptr [rip + vdso_gettime], rax
    ret
8:  add rcx, SYM_SIZE
    jmp 4b
9:  ret

# clock_now: edi = a clock (CLOCK_*), rsi = a timespec to fill.
# Reads the clock, through the vDSO when it was found (vdso_init), else with
# the system call. Returns rax = 0 or -errno. Clobbers the caller-saved
# registers (the vDSO's function is an ordinary one).
.globl clock_now
clock_now:
    mov rax, qword ptr [rip + vdso_gettime]
    test rax, rax
    jz 1f
    jmp rax                               # it returns to our caller
1:  mov eax, SYS_clock_gettime
    syscall
    ret

.section .rodata
vdso_name: .asciz "__vdso_clock_gettime"

.bss
.p2align 3
vdso_gettime: .space 8                    # the vDSO's clock_gettime, or 0
.text
