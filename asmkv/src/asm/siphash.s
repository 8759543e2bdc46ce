# siphash.s - SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
# PRF", 2012), a keyed 64-bit hash.
#
# Under a secret random key nobody outside can tell which inputs share a hash,
# or learn anything about an input from its hash: auth.s keeps the hash of
# each token and compares hashes, so a request costs one pass over the
# presented token whatever the number of tokens.
.text

# One SipRound on v0..v3 = r8..r11 (the rotations are the algorithm's).
.macro SIPROUND
    add r8, r9
    rol r9, 13
    xor r9, r8
    rol r8, 32
    add r10, r11
    rol r11, 16
    xor r11, r10
    add r8, r11
    rol r11, 21
    xor r11, r8
    add r10, r9
    rol r9, 17
    xor r9, r10
    rol r10, 32
.endm

# siphash24: rdi = the key (16 bytes: k0, k1 little-endian), rsi = bytes,
# rdx = their length. Returns rax = their SipHash-2-4. Reads nothing outside
# the bytes, and its time depends only on their length. Clobbers rcx, rdx,
# rsi, rdi, r8-r11.
.globl siphash24
siphash24:
    mov rax, qword ptr [rdi]              # k0
    mov rcx, qword ptr [rdi + 8]          # k1
    mov r8, SIP_V0
    xor r8, rax
    mov r9, SIP_V1
    xor r9, rcx
    mov r10, SIP_V2
    xor r10, rax
    mov r11, SIP_V3
    xor r11, rcx
    mov rdi, rdx
    shl rdi, 56                           # the last word's top byte: length mod 256
1:  cmp rdx, 8                            # each whole 8-byte word: 2 rounds
    jb 2f
    mov rax, qword ptr [rsi]
    xor r11, rax
    SIPROUND
    SIPROUND
    xor r8, rax
    add rsi, 8
    sub rdx, 8
    jmp 1b
2:  xor eax, eax                          # the 0-7 bytes left, little-endian, last first
3:  test rdx, rdx
    jz 4f
    shl rax, 8
    movzx ecx, byte ptr [rsi + rdx - 1]
    or rax, rcx
    dec rdx
    jmp 3b
4:  or rax, rdi
    xor r11, rax
    SIPROUND
    SIPROUND
    xor r8, rax
    xor r10, SIP_FINAL                    # finalization: 4 rounds
    SIPROUND
    SIPROUND
    SIPROUND
    SIPROUND
    mov rax, r8
    xor rax, r9
    xor rax, r10
    xor rax, r11
    ret
