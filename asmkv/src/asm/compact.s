# compact.s - the compactor: a child process of the master (the
# slot after the workers'), restarted like a worker if it dies.
#
# Overwrites and deletes leave dead records behind. Once a second the
# compactor looks for a segment that is no one's active segment, has no record
# still being written (SG_BUSY) and has at least half of its records dead
# (SG_DEAD, kept by whoever publishes), and moves it:
#   1. each record still the newest of its key (the index names exactly it)
#      is copied, byte for byte (same sequence number, same CRCs), into the
#      compactor's own segment - runs of them with one copy_file_range;
#   2. the copies are flushed (fdatasync), whatever --sync says: the old
#      segment is about to go;
#   3. each key is pointed at its copy with one cmpxchg16b that succeeds only
#      if the key still names the old record, so a newer write is never
#      replaced by an older copy;
#   4. the old segment is unlinked and marked gone; workers close their
#      descriptors of it at their next tick unless a GET is still sending
#      from it (that GET finishes: an open file keeps its data).
# A crash at any point leaves each live record in the old segment, or in
# both (same sequence number: recovery takes either), never in neither.
.text

# compactor_main: never returns. Runs in the compactor's process.
.globl compactor_main
compactor_main:
    call index_attach
    test rax, rax
    js 9f
    call backup_forget_own                # a killed compactor's segment is no one's
    call stats_init                       # (its restarts are counted)
    call seg_init
    test rax, rax
    js 9f
    mov dword ptr [rip + seals_mine], 1   # seals are appended by the compactor alone
    xor edi, edi
    call seals_open
    mov rdi, COMPACT_ENTRIES * CE_SIZE
    call reserve_memory
    cmp rax, -4096
    ja 9f
    mov qword ptr [rip + c_entries], rax
    mov rdi, COMPACT_RECORDS * 8
    call reserve_memory
    cmp rax, -4096
    ja 9f
    mov qword ptr [rip + c_all], rax
    mov rdi, HINT_MAX
    call reserve_memory
    cmp rax, -4096
    ja 9f
    mov qword ptr [rip + c_hint], rax
1:  sub rsp, SIGINFO_SIZE + 16            # siginfo, then the one-second timeout
    lea rdi, [rip + stop_sigset]
    mov rsi, rsp
    lea rdx, [rsp + SIGINFO_SIZE]
    mov qword ptr [rdx], 1
    mov qword ptr [rdx + 8], 0
    mov r10d, SIGSET_SIZE
    mov eax, SYS_rt_sigtimedwait          # SIGTERM/SIGINT are blocked: wait for them
    syscall
    add rsp, SIGINFO_SIZE + 16
    cmp eax, SIGTERM
    je 8f
    cmp eax, SIGINT
    je 8f
    call compact_round
    call index_reclaim                    # the keys it left with nothing on disk
    call scrub_round                      # (one segment, paced)
    jmp 1b
8:  xor edi, edi
    mov eax, SYS_exit_group
    syscall
9:  mov edi, 1                            # the master starts another
    mov eax, SYS_exit_group
    syscall

# compact_round: compacts every segment worth it; when there was none, lets
# go of its own segment if that is worth compacting in turn.
# Clobbers the caller-saved registers.
compact_round:
    push rbx
    push r12
    sub rsp, 8
    call c_clock                          # (what has expired, this round)
    xor r12d, r12d                        # segments compacted
    mov ebx, 1
1:  call backup_let_go                    # a backup began: copy into a new segment
    mov rax, qword ptr [rip + ix_base]
    cmp rbx, qword ptr [rax + IX_SEGID]
    ja 4f
    mov rdi, rbx
    call seg_worth
    test eax, eax
    jz 3f
    mov rdi, rbx
    call compact_segment
    inc r12d
3:  inc rbx
    jmp 1b
4:  call hint_round
    test r12d, r12d
    jnz 5f
    mov rdi, qword ptr [rip + w_seg_id]   # our own segment
    test rdi, rdi
    jz 5f
    call seg_entry
    call sg_mostly_dead
    test ecx, ecx
    jz 5f
    mov rcx, qword ptr [rip + ix_base]
    mov eax, dword ptr [rip + w_slot]
    mov qword ptr [rcx + IX_ACTIVE + rax*8], 0
    mov qword ptr [rip + w_seg_id], 0
5:  add rsp, 8
    pop r12
    pop rbx
    ret

# c_clock: (compactor) sets w_unix to the real-time clock's second, as a
# worker's tick does for it (expired_at and sg_mostly_dead read it).
# Clobbers the caller-saved registers.
c_clock:
    sub rsp, 24
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    call clock_now                        # cannot fail with a valid clock and buffer
    mov rax, qword ptr [rsp]
    mov qword ptr [rip + w_unix], rax
    add rsp, 24
    ret

# hint_round: seals and writes the hint file of one segment that lacks either
# (hint_write), has records, and that no one writes to any more. Clobbers the
# caller-saved registers.
hint_round:
    push rbx
    mov ebx, 1
1:  mov rdi, rbx
    mov esi, SGF_DAMAGED                  # (a damaged one is read at startup, and
    call seg_next_sealed                  # reported there)
    test rax, rax
    jz 3f
    mov rbx, rax
    mov rdi, rax
    call seg_entry
    mov ecx, dword ptr [rax + SG_FLAGS]
    and ecx, SGF_HINT | SGF_SEALED
    cmp ecx, SGF_HINT | SGF_SEALED
    jne 2f
    inc rbx
    jmp 1b
2:  mov rdi, rbx
    call hint_write
3:  pop rbx
    ret

# seg_whole: (compactor) rdi = id of a sealed segment whose whole scan just
# found no damage, rsi = its file name. Returns eax = 1 if as many records
# checked out (r_good) as the segment holds (SG_TOTAL). Fewer is damage that
# has a crash's shape, so the scan did not report it, in records the index may
# still name: said, counted and marked (SGF_DAMAGED) like any other damage,
# and eax = 0. Clobbers the caller-saved registers.
.globl seg_whole
seg_whole:
    push rbx
    mov rbx, rsi
    mov rax, qword ptr [rip + ix_base]    # a write failed after its record was
    cmp dword ptr [rax + IX_TAINTED], 0   # counted: the counts may be high, and say
    jne 1f                                # nothing (index_taint)
    call seg_entry
    mov ecx, dword ptr [rax + SG_TOTAL]
    cmp qword ptr [rip + r_good], rcx
    jae 1f
    lock or dword ptr [rax + SG_FLAGS], SGF_DAMAGED
    mov rax, qword ptr [rip + ix_base]
    lock inc qword ptr [rax + IX_DAMAGED]
    lea rdi, [rip + m_fewer]
    mov esi, OFFSET m_fewer_len
    mov rdx, rbx
    xor ecx, ecx
    call log_line
    xor eax, eax
    pop rbx
    ret
1:  mov eax, 1
    pop rbx
    ret

# seg_damaged: (compactor) rdi = id of a sealed segment a scan found damage
# in (r_report marked it). Removes its hint, so a start without the index's
# image reads the segment and reports the damage again, rather than taking
# the damaged records from the hint for whole. Clobbers the caller-saved
# registers.
.globl seg_damaged
seg_damaged:
    push rbx
    mov rbx, rdi
    call hint_unlink                      # (a failure leaves the hint: the scrubber
    test rax, rax                         # and a read still find the damage)
    jnz 1f
    mov edi, dword ptr [rip + dir_fd]     # the removal durable: a hint back after a
    mov eax, SYS_fsync                    # power cut would hide the damage from the
    syscall                               # next start again (a failure: the same)
1:  mov rdi, rbx
    call seg_entry
    lock and dword ptr [rax + SG_FLAGS], ~SGF_HINT
    pop rbx
    ret

# seg_next_sealed: rdi = a segment id, esi = SGF_* flags that rule a segment
# out. Returns rax = the first id from rdi on of a sealed segment (seg_sealed)
# with none of those flags, or 0 if there is none. Clobbers rcx, rdx, rdi.
.globl seg_next_sealed
seg_next_sealed:
    sub rsp, 8
1:  mov rax, qword ptr [rip + ix_base]
    cmp rdi, qword ptr [rax + IX_SEGID]
    ja 3f
    call seg_sealed                       # (keeps rdi)
    test eax, eax
    jz 2f
    call seg_entry
    test dword ptr [rax + SG_FLAGS], esi
    jnz 2f
    mov rax, rdi
    add rsp, 8
    ret
2:  inc rdi
    jmp 1b
3:  xor eax, eax
    add rsp, 8
    ret

# seg_sealed: rdi = segment id. Returns eax = 1 if the segment has records,
# none still being written, is not removed, and no process appends to it: it
# will not change again. Clobbers rcx, rdx.
seg_sealed:
    call seg_entry
    cmp dword ptr [rax + SG_TOTAL], 0
    je 2f
    test dword ptr [rax + SG_FLAGS], SGF_GONE
    jnz 2f
    mov rdx, qword ptr [rip + ix_base]    # the active segments, read before SG_BUSY:
    xor ecx, ecx                          # a worker counts a record open (a locked
1:  cmp rdi, qword ptr [rdx + IX_ACTIVE + rcx*8]  # add) before it lets go of its
    je 2f                                 # segment (a store after it), so once
    inc ecx                               # that is seen, so is the count (x86:
    cmp ecx, MAX_CHILDREN                 # loads in order); read the other way, a
    jb 1b                                 # record reserved between the two reads
    cmp dword ptr [rax + SG_BUSY], 0      # and the segment let go would be missed
    jne 2f                                # (seg_sweep lets go of busy segments)
    mov eax, 1
    ret
2:  xor eax, eax
    ret

# seg_worth: rdi = segment id. Returns eax = 1 if it may and should be
# compacted: sealed (seg_sealed), not damaged (SGF_DAMAGED), not held by a
# backup (bk_held), and mostly dead (sg_mostly_dead). Clobbers rcx, rdx.
seg_worth:
    call bk_held
    test eax, eax
    jnz 2f
    push rdi
    call seg_sealed
    pop rdi
    test eax, eax
    jz 1f
    call seg_entry
    test dword ptr [rax + SG_FLAGS], SGF_DAMAGED
    jnz 2f
    call sg_mostly_dead
    mov eax, ecx
1:  ret
2:  xor eax, eax
    ret

# compact_segment: rdi = id of a segment worth compacting. Moves its live
# records into the compactor's segment and removes it (steps at the top).
# Gives up (the segment stays, its copies are dead space) on any error.
# Clobbers the caller-saved registers.
compact_segment:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, SEG_NAME_CAP
    mov rbx, rdi
    call seg_fd
    test rax, rax
    js .Lcs_out
    mov dword ptr [rip + c_src_fd], eax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lcs_out
    # room for all of it in our segment, or a new one
    cmp qword ptr [rip + w_seg_id], 0
    je 1f
    mov rax, qword ptr [rip + w_seg_pos]
    test rax, rax
    jz 2f
    add rax, qword ptr [rip + w_stat + ST_SIZE]
    cmp rax, SEG_MAX
    jbe 2f
1:  call seg_open_new
    test rax, rax
    js .Lcs_out
    cmp dword ptr [rip + cfg_sync], 0     # its name must be durable before the
    jne 2f                                # old segment goes, whatever --sync says
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js .Lcs_out
2:  xor eax, eax
    mov qword ptr [rip + c_n], rax
    mov qword ptr [rip + c_copies], rax
    mov qword ptr [rip + c_alln], rax
    mov qword ptr [rip + c_bytes], rax
    mov qword ptr [rip + c_run_len], rax
    mov qword ptr [rip + c_fail], rax
    mov qword ptr [rip + c_cfail], rax
    mov rdi, rsp
    mov rsi, rbx
    call seg_name
    mov rdi, rsp
    mov rsi, rbx
    lea rdx, [rip + compact_record]
    call scan_segment
    test rax, rax
    js 3f                                 # (not read to its end, no damage seen:
    jnz 2f                                # given up for this round)
    mov rdi, rbx
    mov rsi, rsp
    call seg_whole
    test eax, eax
    jnz 1f
2:  mov qword ptr [rip + c_fail], 1       # damage (r_report marked the segment): it
    mov rdi, rbx                          # stays as it is, where its intact records
    call seg_damaged                      # are read, never taken again (its copies
    jmp 1f
3:  mov qword ptr [rip + c_fail], 1
1:  call flush_run                        # are dead)
    cmp qword ptr [rip + c_cfail], 0      # a copy failed: the copies are not counted
    jne .Lcs_cfail                        # (not whole on disk; a count above what a
    mov rdi, qword ptr [rip + w_seg_id]   # scan finds would be taken for damage:
    call seg_entry                        # seg_whole)
    mov r15, rax                          # our segment's counts
    mov rcx, qword ptr [rip + c_copies]
    lock add dword ptr [r15 + SG_TOTAL], ecx
    mov rcx, qword ptr [rip + c_bytes]
    lock add qword ptr [r15 + SG_BYTES], rcx
    cmp qword ptr [rip + c_fail], 0
    jne .Lcs_dead                         # given up, the copies whole: dead
    mov edi, dword ptr [rip + w_seg_fd]
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    js .Lcs_unsynced
    # point each key at its copy, unless it was written meanwhile
    xor r12d, r12d
    mov r13, qword ptr [rip + c_entries]
3:  cmp r12, qword ptr [rip + c_n]
    jae 4f
    mov rdi, qword ptr [r13 + CE_NODE]
    mov rsi, qword ptr [r13 + CE_SEQ]
    mov rdx, qword ptr [r13 + CE_OLD]
    mov rcx, qword ptr [r13 + CE_NEW]
    call index_move
    mov rdx, qword ptr [r13 + CE_NEW]     # an expired value given back (no copy:
    xor rdx, qword ptr [r13 + CE_OLD]     # the same place, LOC_TOMB: its key has
    bt rdx, LOC_TOMB_BIT                  # no value now)
    jnc 6f
    test eax, eax
    jz 5f
    mov rcx, qword ptr [rip + ix_base]
    lock dec qword ptr [rcx + IX_KEYS]
    lock inc qword ptr [rcx + IX_EXPIRED]
    jmp 5f
6:  test eax, eax
    jnz 5f
    lock inc dword ptr [r15 + SG_DEAD]    # overwritten meanwhile: the copy is dead
    mov rdi, qword ptr [r13 + CE_NEW]
    call loc_len
    lock add qword ptr [r15 + SG_DEAD_BYTES], rax
5:  add r13, CE_SIZE
    inc r12
    jmp 3b
4:  mov rdi, rbx                          # a backup began meanwhile: it may need
    call bk_held                          # the segment (its hold is read after the
    test eax, eax                         # copies were made: backup.s)
    jnz .Lcs_retry
    mov rdi, rbx                          # its hint first: a segment without one is
    call hint_unlink                      # read at startup, a hint without one could
    test rax, rax                         # be taken for a later segment of its id
    jns 8f
    cmp rax, -ENOENT
    jne .Lcs_retry
8:  mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    xor edx, edx
    mov eax, SYS_unlinkat                 # a crash before this is undone is harmless:
    syscall                               # recovery sees the same records twice
    test rax, rax
    jns 9f
    cmp rax, -ENOENT
    jne .Lcs_retry                        # still there: nothing of it is uncounted
9:  mov edi, dword ptr [rip + dir_fd]     # the removal durable before any count falls:
    mov eax, SYS_fsync                    # a tombstone dropped on the strength of it
    syscall                               # must not outlive, in a power cut, the
    test rax, rax                         # removal of the value it hid
    js .Lcs_retry
    mov rdi, rbx
    call seg_entry
    mov dword ptr [rax + SG_TOTAL], 0
    or dword ptr [rax + SG_FLAGS], SGF_GONE
    mov rcx, qword ptr [rip + ix_base]
    lock inc qword ptr [rcx + IX_DEAD_GEN]
    xor r12d, r12d                        # its records are gone: each key has one
    mov r13, qword ptr [rip + c_all]      # fewer on disk (only now: a count is
6:  cmp r12, qword ptr [rip + c_alln]     # never below the truth)
    jae 7f
    mov rdi, qword ptr [r13 + r12*8]
    call index_rec_drop
    inc r12
    jmp 6b
7:  mov rdi, rbx                          # its seal, left in the file
    call seal_gone
    mov edi, dword ptr [rip + c_src_fd]
    mov eax, SYS_close
    syscall
    mov rax, qword ptr [rip + w_segfds]
    mov dword ptr [rax + rbx*4], 0
.Lcs_out:
    add rsp, SEG_NAME_CAP
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lcs_cfail:                               # what a copy cut short left in our segment
    mov rdi, qword ptr [rip + w_seg_id]   # (a header without its record, zeros) is
    call seg_entry                        # no crash's: it gets no seal
    lock or dword ptr [rax + SG_FLAGS], SGF_LAX
    jmp .Lcs_out
.Lcs_retry:                               # moved, but not removed: its records are
    mov rdi, rbx                          # all dead now (the keys name the copies),
    call seg_entry                        # so a later round takes it again and
    mov ecx, dword ptr [rax + SG_TOTAL]   # removes it (and only then uncounts them)
    mov dword ptr [rax + SG_DEAD], ecx
    jmp .Lcs_out
.Lcs_unsynced:                            # the copies may never reach the disk: not
    lock or dword ptr [r15 + SG_FLAGS], SGF_LAX  # counted after all, and no seal
    mov rcx, qword ptr [rip + c_copies]
    lock sub dword ptr [r15 + SG_TOTAL], ecx
    mov rcx, qword ptr [rip + c_bytes]
    lock sub qword ptr [r15 + SG_BYTES], rcx
    jmp .Lcs_out
.Lcs_dead:                                # given up: what was copied is dead
    mov rcx, qword ptr [rip + c_copies]
    lock add dword ptr [r15 + SG_DEAD], ecx
    mov rcx, qword ptr [rip + c_bytes]
    lock add qword ptr [r15 + SG_DEAD_BYTES], rcx
    jmp .Lcs_out

# compact_record: a callback of scan_segment (rdi = LOC, rsi = length, key in
# r_*). A record the index still names is live: its copy goes at the end of
# our segment, and it joins the run of bytes to copy.
# Clobbers the caller-saved registers.
compact_record:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, rsi
    lea rdi, [rip + r_key]
    mov rsi, qword ptr [rip + r_klen]
    call index_lookup
    test rax, rax
    jz 9f
    mov r13, rax
    mov rax, qword ptr [rip + c_alln]     # every record of the segment, live or
    cmp rax, COMPACT_RECORDS              # not, is one fewer of its key once the
    jae 8f                                # segment is gone
    mov rcx, qword ptr [rip + c_all]
    mov qword ptr [rcx + rax*8], r13
    inc qword ptr [rip + c_alln]
    mov rdi, r13
    call index_state
    mov rcx, rdx
    mov rdx, ~LOC_CLAIM                   # a conditional write's claim on it
    and rcx, rdx                          # leaves it live (index_move keeps the claim)
    cmp rcx, rbx
    jne 9f                                # dead: a later write, or a delete
    bt rbx, LOC_TOMB_BIT                  # a delete that is its key's only record
    jnc 3f                                # anywhere keeps nothing from coming back:
    mov rdi, r13                          # dropped, not copied (Bitcask's rule; no
    call index_recs                       # older record of the key is left to return)
    cmp eax, 1
    je 9f
    jmp 4f
3:  mov rax, qword ptr [rip + r_delete_at]  # a put that has expired counts as a
    call expired_at                       # delete: dropped if it is its key's only
    test eax, eax                         # record, its key then without a value
    jz 4f                                 # (index_move to it, LOC_TOMB); else copied,
    mov rdi, r13                          # so no older one comes back
    call index_recs
    cmp eax, 1
    jne 4f
    cmp qword ptr [rip + c_n], COMPACT_ENTRIES
    jae 8f
    mov rdi, r13
    mov rsi, rbx
    mov rdx, LOC_TOMB
    or rdx, rbx
    call ce_add
    jmp 9f
4:  mov rsi, qword ptr [rip + r_delete_at]  # a copy that will expire: our segment
    test rsi, rsi                         # says so (one expired already is kept
    jz 5f                                 # for its older records' sake, and does
    mov rax, rsi                          # not count: SG_EXPIRING would make our
    call expired_at                       # segment worth compacting at once)
    mov rdi, qword ptr [rip + w_seg_id]
    test eax, eax
    jnz 6f
    call seg_expiry
    jmp 5f
6:  call seg_expiring
5:  mov rax, qword ptr [rip + c_n]
    cmp rax, COMPACT_ENTRIES
    jae 8f
    mov rdi, r13                          # the copy is counted before it is made
    call index_rec_add
    mov rdx, qword ptr [rip + w_seg_id]   # the copy: same flags and length,
    shl rdx, LOC_SEG_SHIFT                # new place
    or rdx, qword ptr [rip + w_seg_pos]
    mov rcx, LOC_TOMB | LOC_LEN_MASK
    and rcx, rbx
    or rdx, rcx
    mov rdi, r13
    mov rsi, rbx
    call ce_add
    inc qword ptr [rip + c_copies]
    add qword ptr [rip + c_bytes], r12
    mov rax, LOC_OFF_MASK
    and rax, rbx                          # where it is now
    mov rcx, qword ptr [rip + c_run_src]
    add rcx, qword ptr [rip + c_run_len]
    cmp qword ptr [rip + c_run_len], 0
    je 1f
    cmp rcx, rax
    je 2f                                 # it follows the run: one copy for both
1:  push rax
    push rax
    call flush_run
    pop rax
    pop rax
    mov qword ptr [rip + c_run_src], rax
    mov rax, qword ptr [rip + w_seg_pos]
    mov qword ptr [rip + c_run_dst], rax
2:  add qword ptr [rip + c_run_len], r12
    add qword ptr [rip + w_seg_pos], r12
    jmp 9f
8:  mov qword ptr [rip + c_fail], 1
9:  pop r13
    pop r12
    pop rbx
    ret

# ce_add: (compactor) rdi = a node, rsi = the LOC the index names for the
# record in r_seq, rdx = the LOC it is to name (its copy's, or the same place
# with LOC_TOMB: an expired value given back). Appends the move to c_entries
# (the caller checked there is room). Clobbers rax, rcx.
ce_add:
    mov rax, qword ptr [rip + c_n]
    shl rax, 5                            # CE_SIZE
    add rax, qword ptr [rip + c_entries]
    mov qword ptr [rax + CE_NODE], rdi
    mov rcx, qword ptr [rip + r_seq]
    mov qword ptr [rax + CE_SEQ], rcx
    mov qword ptr [rax + CE_OLD], rsi
    mov qword ptr [rax + CE_NEW], rdx
    inc qword ptr [rip + c_n]
    ret

# flush_run: copies the run of live records gathered so far (c_run_*) from
# the old segment to ours, in the kernel. Marks the compaction failed on an
# error. Clobbers the caller-saved registers.
flush_run:
1:  mov r8, qword ptr [rip + c_run_len]
    test r8, r8
    jz 3f
    mov edi, dword ptr [rip + c_src_fd]
    lea rsi, [rip + c_run_src]            # both offsets move on with the copy
    mov edx, dword ptr [rip + w_seg_fd]
    lea r10, [rip + c_run_dst]
    xor r9d, r9d
    mov eax, SYS_copy_file_range
    syscall
    cmp rax, -EINTR
    je 1b
    test rax, rax
    jle 2f                                # 0: the old segment ended early
    sub qword ptr [rip + c_run_len], rax
    jmp 1b
2:  mov qword ptr [rip + c_fail], 1
    mov qword ptr [rip + c_cfail], 1
    mov qword ptr [rip + c_run_len], 0
3:  ret

.section .rodata
.globl compactor_name
compactor_name: .asciz "asmkv-compact"      # set by the master as it forks it
m_fewer: .ascii "a segment holds fewer whole records than it did (kept as damaged; its hint removed)"
.equ m_fewer_len, . - m_fewer

.bss
.p2align 3
c_entries:  .space 8                  # CE_* per live record moved
c_all:      .space 8                  # the node of every record of the segment
c_alln:     .space 8                  #   (COMPACT_RECORDS reserved), so far
c_n:        .space 8                  # entries so far (moves, and expired values given back)
c_copies:   .space 8                  #   of them, copies
c_bytes:    .space 8                  # the bytes of their records
c_run_src:  .space 8                  # the run of bytes to copy: from,
c_run_dst:  .space 8                  #   to,
c_run_len:  .space 8                  #   how many
c_fail:     .space 8                  # 1: give this segment up
c_cfail:    .space 8                  #   and a copy failed (the copies are not whole)
c_src_fd:   .space 4
.text
