# crc.s - CRC32C (Castagnoli), with the SSE4.2 instruction that computes it.
#
# Every record carries two of these (segment.s): one over its
# header and key, one over its value, so a torn or corrupted record is never
# believed. Startup checks for SSE4.2 (have_crc32c).
.text

# crc32c: edi = the CRC of the bytes before (0 to start), rsi = buf, rdx = len.
# Returns eax = the CRC of those bytes followed by these, so a long value can
# be checked piece by piece. Clobbers rcx, rdx, rsi.
.globl crc32c
crc32c:
    mov eax, edi
    not eax                               # CRC32C starts from all ones ...
    mov ecx, eax
1:  cmp rdx, 8
    jb 2f
    crc32 rcx, qword ptr [rsi]
    add rsi, 8
    sub rdx, 8
    jmp 1b
2:  test rdx, rdx
    jz 3f
    crc32 ecx, byte ptr [rsi]
    inc rsi
    dec rdx
    jmp 2b
3:  mov eax, ecx
    not eax                               # ... and ends inverted
    ret

# have_crc32c: returns eax = 1 if this CPU has SSE4.2 (CPUID leaf 1, ECX bit 20).
# Clobbers rcx, rdx.
.globl have_crc32c
have_crc32c:
    push rbx
    mov eax, 1
    cpuid
    pop rbx
    xor eax, eax
    bt ecx, 20
    setc al
    ret
