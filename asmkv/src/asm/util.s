# util.s - small pure helpers: copying, comparing, numbers. No syscalls.
.text

# copy: rdi = dst, rsi = src, rdx = count. Returns rax = dst + count.
# Clobbers rcx, rsi, rdi. Regions may not overlap dst > src (forward copy).
.globl copy
copy:
    mov rcx, rdx
    rep movsb
    mov rax, rdi
    ret

# cstr_len: rdi = NUL-terminated string. Returns rax = length. Clobbers nothing else.
.globl cstr_len
cstr_len:
    mov rax, rdi
1:  cmp byte ptr [rax], 0
    je 2f
    inc rax
    jmp 1b
2:  sub rax, rdi
    ret

# streq: rdi, rsi = NUL-terminated strings. Returns eax = 1 if equal, else 0.
# Clobbers rcx, rdx.
.globl streq
streq:
    xor ecx, ecx
1:  movzx edx, byte ptr [rdi + rcx]
    cmp dl, byte ptr [rsi + rcx]
    jne 2f
    inc rcx
    test dl, dl
    jnz 1b
    mov eax, 1
    ret
2:  xor eax, eax
    ret

# ci_eq: rdi = bytes (any case), rsi = lowercase literal, rdx = length of both.
# Returns eax = 1 if they match ignoring ASCII case, else 0. Clobbers rcx, r8.
.globl ci_eq
ci_eq:
    xor ecx, ecx
1:  cmp rcx, rdx
    jae 3f
    movzx r8d, byte ptr [rdi + rcx]
    lea eax, [r8 - 'A']
    cmp eax, 25
    ja 2f
    or r8d, 0x20              # fold A-Z only, so no other byte can alias a letter
2:  cmp r8b, byte ptr [rsi + rcx]
    jne 4f
    inc rcx
    jmp 1b
3:  mov eax, 1
    ret
4:  xor eax, eax
    ret

# parse_u64: rdi = digits, rsi = length. Strict decimal: 1+ digits, nothing else.
# Returns rax = value, edx = 0 on success, 1 on empty, non-digit or overflow.
# Clobbers rcx, r8.
.globl parse_u64
parse_u64:
    xor eax, eax
    test rsi, rsi
    jz 9f
    xor ecx, ecx
1:  movzx r8d, byte ptr [rdi + rcx]
    sub r8d, '0'
    cmp r8d, 9
    ja 9f
    mov edx, 10
    mul rdx                   # rdx:rax = rax * 10
    jc 9f
    add rax, r8
    jc 9f
    inc rcx
    cmp rcx, rsi
    jb 1b
    xor edx, edx
    ret
9:  mov edx, 1
    ret

# parse_cstr_u64: rdi = NUL-terminated digits. parse_u64 of the whole string.
# Returns rax = value, edx = 0 on success, 1 otherwise. Clobbers rcx, rsi, r8.
.globl parse_cstr_u64
parse_cstr_u64:
    call cstr_len
    mov rsi, rax
    jmp parse_u64

# fmt_u64: rdi = destination (20 bytes room), rsi = value.
# Writes the decimal digits; returns rax = end of them. Clobbers rcx, rdx, r8, r9.
.globl fmt_u64
fmt_u64:
    mov rax, rsi
    mov r9, rdi
    mov r8d, 10
    sub rsp, 24               # digits come out backwards: stage them
    lea rcx, [rsp + 24]
1:  xor edx, edx
    div r8
    add dl, '0'
    dec rcx
    mov byte ptr [rcx], dl
    test rax, rax
    jnz 1b
2:  mov dl, byte ptr [rcx]
    mov byte ptr [r9], dl
    inc r9
    inc rcx
    lea rax, [rsp + 24]
    cmp rcx, rax
    jb 2b
    add rsp, 24
    mov rax, r9
    ret

# hex_val: edi = byte. Returns eax = 0..15, or -1 if not a hex digit. Clobbers nothing else.
.globl hex_val
hex_val:
    lea eax, [rdi - '0']
    cmp eax, 9
    jbe 1f
    mov eax, edi
    or eax, 0x20
    sub eax, 'a'
    cmp eax, 5
    ja 2f
    add eax, 10
1:  ret
2:  mov eax, -1
    ret
