# scrub.s - the scrubber: in the compactor's process, between its rounds,
# it reads every sealed segment in turn, from the disk (O_DIRECT, past the
# page cache), and checks every record's CRCs with the scan that recovery
# uses (scan_segment), so damage is found before a client reads it. Each
# round (about a second apart) reads at most --scrub-rate MiB, resuming where
# the last stopped (a record boundary), so it never reads faster than that
# and never holds up compaction for longer than that takes.
# What it finds is reported and kept like the damage a start finds
# (r_report, SGF_DAMAGED): the error log names it, the metrics count it, and
# compaction never removes the segment. Its place (IX_SCRUB_NEXT,
# IX_SCRUB_OFF) is in the shared index, so a compactor started again goes on
# where the last stopped, past a segment it died reading.
.text

# scrub_round: (compactor) with --scrub-rate above 0, reads on in the next
# sealed segment without damage found in it yet, from IX_SCRUB_NEXT (at
# IX_SCRUB_OFF) on; past the last, a pass is over (IX_SCRUB_PASSES,
# IX_SCRUB_PASS_AT) and the next starts again from the first.
# Clobbers the caller-saved registers.
.globl scrub_round
scrub_round:
    cmp qword ptr [rip + cfg_scrub_rate], 0
    je 9f
    push rbx
    push r12
    sub rsp, SEG_NAME_CAP + 8
    mov rax, qword ptr [rip + ix_base]
    mov rbx, qword ptr [rax + IX_SCRUB_NEXT]
    mov r12, qword ptr [rax + IX_SCRUB_OFF]
    test rbx, rbx
    jnz 1f
    mov ebx, 1
1:  mov rdi, rbx
    mov esi, SGF_DAMAGED                  # (a damaged one was reported: not twice)
    call seg_next_sealed
    test rax, rax
    jz 3f
    cmp rax, rbx
    je 4f
    mov rbx, rax                          # another segment: from its start
    xor r12d, r12d
4:  lea rax, [rbx + 1]                    # if this scan dies (an unreadable disk
    mov rcx, qword ptr [rip + ix_base]    # stops the process), the next one
    mov qword ptr [rcx + IX_SCRUB_NEXT], rax  # starts past this segment
    mov qword ptr [rcx + IX_SCRUB_OFF], 0
    test r12, r12                         # a segment begun: no record counted yet
    jnz 7f
    mov qword ptr [rcx + IX_SCRUB_GOOD], 0
7:  mov rdi, rsp
    mov rsi, rbx
    call seg_name
    mov dword ptr [rip + r_scrub], 1
    mov qword ptr [rip + r_from], r12
    mov rax, qword ptr [rip + cfg_scrub_rate]
    shl rax, 20
    add rax, r12
    mov qword ptr [rip + r_until], rax
    mov rdi, rsp
    mov rsi, rbx
    lea rdx, [rip + scrub_record]
    call scan_segment
    mov dword ptr [rip + r_scrub], 0
    mov qword ptr [rip + r_from], 0
    mov qword ptr [rip + r_until], 0
    test rax, rax
    js 8f                                 # (not read: the next pass tries again)
    jnz 5f                                # (an unreadable segment counts too)
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rip + r_good]
    add rax, qword ptr [rcx + IX_SCRUB_GOOD]
    mov qword ptr [rcx + IX_SCRUB_GOOD], rax
    mov rax, qword ptr [rip + r_stopped]
    test rax, rax
    jnz 6f
    mov rax, qword ptr [rcx + IX_SCRUB_GOOD]  # read to its end: as many records as
    mov qword ptr [rip + r_good], rax     # it holds? (seg_whole; fewer is damage a
    mov rdi, rbx                          # crash's shape hid from the scan)
    mov rsi, rsp
    call seg_whole
    test eax, eax
    jz 5f
    jmp 8f
6:  mov rcx, qword ptr [rip + ix_base]    # a part read: the rest next round
    mov qword ptr [rcx + IX_SCRUB_NEXT], rbx
    mov qword ptr [rcx + IX_SCRUB_OFF], rax
    jmp 8f
5:  mov rdi, rbx                          # damage (r_report marked the segment)
    call seg_damaged
    jmp 8f
3:  mov rax, qword ptr [rip + ix_base]    # past the last segment
    mov qword ptr [rax + IX_SCRUB_NEXT], 1
    mov qword ptr [rax + IX_SCRUB_OFF], 0
    cmp qword ptr [rax + IX_SEGID], 0
    je 8f                                 # (there was none to read)
    lock inc qword ptr [rax + IX_SCRUB_PASSES]
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    mov eax, SYS_clock_gettime            # cannot fail with a valid clock and buffer
    syscall
    mov rcx, qword ptr [rsp]
    mov rax, qword ptr [rip + ix_base]
    mov qword ptr [rax + IX_SCRUB_PASS_AT], rcx
8:  add rsp, SEG_NAME_CAP + 8
    pop r12
    pop rbx
9:  ret

# scrub_stats: returns rax = bytes the scrubber has read, rdx = passes it has
# finished, rcx = Unix seconds when the last ended (0: none). Clobbers
# nothing else.
.globl scrub_stats
scrub_stats:
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rcx + IX_SCRUBBED]
    mov rdx, qword ptr [rcx + IX_SCRUB_PASSES]
    mov rcx, qword ptr [rcx + IX_SCRUB_PASS_AT]
    ret

# scrub_record: a callback of scan_segment for a record that checks out:
# nothing to do.
scrub_record:
    ret
