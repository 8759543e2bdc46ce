# snapshot.s - the index's image, saved at a clean stop and read back at the
# next start instead of the segments, so a large store restarts in the time it
# takes to read its index (about 80 bytes a key) rather than to rebuild it.
#
# ".asmkv-index" in the data directory (a name no key of the old layout has,
# and that older builds refuse as foreign) (SN_* in defs.s): a page of header, the
# list of every segment with its length and last change, then the index's own bytes at their
# offsets (node links are offsets in the index, so an image read back at the
# same offsets is the same index): its header page and segment counters, its
# reclamation page, its buckets, its nodes. CRC32C over all of it.
#
# It is believed only if all of it checks out and the directory holds exactly
# the segments it lists, each of the length and last change listed (a
# segment changed in place since is not the image's): otherwise the segments are
# read as always. It is written only when every process stopped cleanly (no
# child was killed in the middle of a change), after every segment is
# flushed (so a power cut cannot leave it naming records that are not on
# disk), to a temporary name, flushed and renamed; and it is removed, durably,
# before the server takes any write, so an image older than the segments is
# never read (a crash later means a full read of the segments, as always).
.text
.if (1 << SN_KEEP_SHIFT) < N_KEY + NAME_MAX + 1 + 4 * SL_LEVELS + 2 * IX_UNIT
.error "SN_KEEP_SHIFT: a store of live keys alone must keep its image"
.endif

# snapshot_save: (master, at a clean stop, after every child exited 0) writes
# ".asmkv-index". Says so in the log if it cannot (the next start reads the
# segments). Clobbers the caller-saved registers.
.globl snapshot_save
snapshot_save:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, SEG_NAME_CAP + STAT_SIZE
    call index_attach
    test rax, rax
    js .Lss_fail
    mov rax, qword ptr [rip + ix_base]    # a write failed after its record was
    cmp dword ptr [rax + IX_TAINTED], 0   # counted: a count kept high that only a
    jne .Lss_tainted                      # full read clears (index_taint)
    mov rcx, qword ptr [rax + IX_NEXT]    # node memory mostly free (keys made and
    shl rcx, 4                            # deleted): a full read gives it back,
    sub rcx, IX_NODES                     # an image would keep it
    mov rdx, qword ptr [rax + IX_SO_COUNT]
    shl rdx, SN_KEEP_SHIFT
    add rdx, SN_KEEP_SLACK
    cmp rcx, rdx
    ja .Lss_mostly_free
    mov rbx, qword ptr [rax + IX_SEGID]   # the header, then the list: SNL_SIZEOF
    mov rax, -ENOSPC                      # bytes a segment at most (ids ran out:
    cmp rbx, SEG_ID_MAX                   # no image of that)
    ja .Lss_fail
    lea rdi, [rbx + 1]
    shl rdi, SNL_SHIFT
    add rdi, SN_HEAD
    call reserve_memory
    cmp rax, -4096
    ja .Lss_fail
    mov r12, rax                          # the header and list being made
    lea r13, [r12 + SN_HEAD]              # the list's end
    mov r14d, 1                           # segment id
.Lss_seg:
    cmp r14, rbx
    ja .Lss_listed
    mov rdi, r14
    call seg_entry
    test dword ptr [rax + SG_FLAGS], SGF_GONE
    jnz 2f
    mov rdi, rsp
    mov rsi, r14
    call seg_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    cmp rax, -ENOENT
    jne 4f
    mov rdi, r14                          # never made, or made and nothing in it;
    call seg_entry                        # one with records gone from under us
    cmp dword ptr [rax + SG_TOTAL], 0     # (removed, its removal not yet durable)
    jne 5f                                # is for a full read to sort out
    cmp qword ptr [rax + SG_BYTES], 0
    je 2f
5:  mov rax, -ENOENT
    jmp .Lss_fail
4:  test rax, rax
    js .Lss_fail
    mov r15d, eax
    mov edi, eax                          # its records on disk before the image
    mov eax, SYS_fdatasync                # names them
    syscall
    test rax, rax
    js 3f
    mov edi, r15d
    lea rsi, [rsp + SEG_NAME_CAP]
    mov eax, SYS_fstat
    syscall
3:  push rax
    push rax
    mov edi, r15d
    mov eax, SYS_close
    syscall
    pop rax
    pop rax
    test rax, rax
    js .Lss_fail
    mov qword ptr [r13 + SNL_ID], r14
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_SIZE]
    mov qword ptr [r13 + SNL_SIZE], rax
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_MTIME]
    mov qword ptr [r13 + SNL_MTIME], rax
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_MTIME + 8]
    mov qword ptr [r13 + SNL_MTIME + 8], rax
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_CTIME]
    mov qword ptr [r13 + SNL_CTIME], rax
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_CTIME + 8]
    mov qword ptr [r13 + SNL_CTIME + 8], rax
    mov rax, qword ptr [rsp + SEG_NAME_CAP + ST_INO]
    mov qword ptr [r13 + SNL_INO], rax
    mov qword ptr [r13 + SNL_SEEN], 0
    add r13, SNL_SIZEOF
2:  inc r14
    jmp .Lss_seg
.Lss_listed:
    mov rax, r13
    sub rax, r12
    sub rax, SN_HEAD
    shr rax, SNL_SHIFT
    mov qword ptr [r12 + SN_SEGS], rax
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rcx + IX_NEXT]
    mov qword ptr [r12 + SN_NEXT], rax
    mov rax, qword ptr [rcx + IX_SO_SIZE]
    mov qword ptr [r12 + SN_SO_SIZE], rax
    mov qword ptr [r12 + SN_SEGID], rbx
    mov dword ptr [r12 + SN_MAGIC], SNAP_MAGIC
    xor ecx, ecx                          # the layout it is made with
3:  lea rax, [rip + sn_layout]
    mov rax, qword ptr [rax + rcx*8]
    mov qword ptr [r12 + SN_LAYOUT + rcx*8], rax
    inc ecx
    cmp ecx, SN_LAYOUT_N
    jb 3b
    lea rsi, [r12 + SN_HEAD]              # the CRC of all after the header
    mov rdx, r13
    sub rdx, rsi
    xor edi, edi
    call crc32c
    mov edi, eax
    mov rsi, r12
    call sn_regions_crc
    mov dword ptr [r12 + SN_CRC], eax
    xor edi, edi
    lea rsi, [r12 + 8]
    mov edx, SN_HEAD - 8
    call crc32c
    mov dword ptr [r12 + SN_HCRC], eax
    mov edi, dword ptr [rip + dir_fd]     # to a temporary name first
    lea rsi, [rip + snap_tmp]
    mov edx, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
    mov r10d, 0600                        # (it holds the index's hash key)
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lss_fail
    mov r15d, eax
    mov edi, eax
    mov rsi, r12
    mov rdx, r13
    sub rdx, r12
    xor ecx, ecx
    call pwrite_all
    test rax, rax
    js .Lss_close
    mov r14, r13
    sub r14, r12                          # where the regions start in the file
    xor ebx, ebx                          # region
1:  cmp ebx, SN_REGIONS
    jae 4f
    mov edi, ebx
    mov rsi, r12
    call sn_region
    mov rsi, rax
    add rsi, qword ptr [rip + ix_base]
    push rdx
    push rdx
    mov edi, r15d
    mov rcx, r14
    call pwrite_all
    pop rdx
    pop rdx
    test rax, rax
    js .Lss_close
    add r14, rdx
    inc ebx
    jmp 1b
4:  mov edi, r15d
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    js .Lss_close
    mov edi, r15d
    mov eax, SYS_close
    syscall
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + snap_tmp]
    mov edx, dword ptr [rip + dir_fd]
    lea r10, [rip + snap_name]
    mov eax, SYS_renameat
    syscall
    test rax, rax
    js .Lss_unlink
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js .Lss_fail
    lea rdi, [rip + msg_snap_saved]
    mov esi, OFFSET msg_snap_saved_len
    xor edx, edx
    xor ecx, ecx
    call log_line
    jmp .Lss_out
.Lss_tainted:
    lea rdi, [rip + msg_snap_tainted]
    mov esi, OFFSET msg_snap_tainted_len
    jmp 1f
.Lss_mostly_free:
    lea rdi, [rip + msg_snap_free]
    mov esi, OFFSET msg_snap_free_len
1:
    xor edx, edx
    xor ecx, ecx
    call log_line
    jmp .Lss_out
.Lss_close:
    push rax
    push rax
    mov edi, r15d
    mov eax, SYS_close
    syscall
    pop rax
    pop rax
.Lss_unlink:
    push rax
    push rax
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + snap_tmp]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    pop rax
    pop rax
.Lss_fail:
    mov ecx, eax
    neg ecx
    lea rdi, [rip + err_snap_save]
    mov esi, OFFSET err_snap_save_len
    xor edx, edx
    call log_line
.Lss_out:
    add rsp, SEG_NAME_CAP + STAT_SIZE
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# sn_unmap: gives back snapshot_load's buffers (the header in r12's mapping
# is found through sn_head, the list through sn_list), if any.
# Clobbers the caller-saved registers.
sn_unmap:
    mov rdi, qword ptr [rip + sn_head]
    test rdi, rdi
    jz 1f
    mov esi, SN_HEAD
    mov eax, SYS_munmap
    syscall
    mov qword ptr [rip + sn_head], 0
1:  mov rdi, qword ptr [rip + sn_list]
    test rdi, rdi
    jz 2f
    mov rsi, qword ptr [rip + sn_list_cap]
    mov eax, SYS_munmap
    syscall
    mov qword ptr [rip + sn_list], 0
2:  ret

# sn_region: edi = a region's number, rsi = an image's header (SN_NEXT,
# SN_SO_SIZE and SN_SEGID set). Returns rax = the region's offset in the
# index, rdx = its length (0 past the SN_REGIONS). In order: the index's header
# page and segment counters, its reclamation page, its buckets, its nodes.
# Clobbers nothing else.
sn_region:
    cmp edi, 0
    jne 1f
    xor eax, eax
    mov rdx, qword ptr [rsi + SN_SEGID]
    inc rdx
    shl rdx, SG_SHIFT
    add rdx, IX_SEGS
    ret
1:  cmp edi, 1
    jne 2f
    mov eax, IX_RECLAIM
    mov edx, PAGE_SIZE
    ret
2:  cmp edi, 2
    jne 3f
    mov eax, IX_BUCKETS
    mov rdx, qword ptr [rsi + SN_SO_SIZE]
    shl rdx, 2
    ret
3:  cmp edi, 3
    jne 4f
    mov rax, IX_NODES
    mov rdx, qword ptr [rsi + SN_NEXT]
    shl rdx, 4                            # IX_UNIT
    sub rdx, rax
    ret
4:  xor edx, edx
    ret

# sn_regions_crc: edi = a CRC so far, rsi = an image's header. Returns eax =
# the CRC of that followed by every region of the index (sn_region), as they
# are in the mapping now. Clobbers rcx, rdx, rsi, rdi, r8.
sn_regions_crc:
    push rbx
    push r12
    push r13
    mov r12, rsi
    mov r13d, edi
    xor ebx, ebx
1:  cmp ebx, SN_REGIONS
    jae 2f
    mov edi, ebx
    mov rsi, r12
    call sn_region
    mov rsi, rax
    add rsi, qword ptr [rip + ix_base]
    mov edi, r13d
    call crc32c
    mov r13d, eax
    inc ebx
    jmp 1b
2:  mov eax, r13d
    pop r13
    pop r12
    pop rbx
    ret

# snapshot_load: (master, index_init done, nothing in the index yet) reads
# ".asmkv-index" into the index if it checks out against itself and against the
# directory (which must hold only our own entries), and then removes it,
# durably, before anything is written. Returns eax = 1 if the index is read
# (IX_SEGID is its last segment id), 0 if not: the index is fresh again (read
# the segments), and the image stays until snapshot_drop, so a start that
# stops at a later check leaves the directory as it was. Exits with a clear
# message if an image read cannot be removed. Clobbers the caller-saved
# registers.
.globl snapshot_load
snapshot_load:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + snap_name]
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    xor r14d, r14d                        # 1: the index was read
    cmp rax, -ENOENT
    je .Lsl_out
    test rax, rax
    js .Lsl_reject
    mov r15d, eax
    mov rdi, SN_HEAD
    call reserve_memory
    cmp rax, -4096
    ja .Lsl_close
    mov r12, rax
    mov qword ptr [rip + sn_head], rax
    mov edi, r15d                         # the header: whole, and its own CRC
    mov rsi, r12
    mov edx, SN_HEAD
    xor ecx, ecx
    call pread_full
    cmp rax, SN_HEAD
    jne .Lsl_close
    cmp dword ptr [r12 + SN_MAGIC], SNAP_MAGIC
    jne .Lsl_close
    xor edi, edi
    lea rsi, [r12 + 8]
    mov edx, SN_HEAD - 8
    call crc32c
    cmp eax, dword ptr [r12 + SN_HCRC]
    jne .Lsl_close
    mov rax, qword ptr [r12 + SN_SEGID]   # sizes that fit what made them
    cmp rax, SEG_ID_MAX
    ja .Lsl_close
    cmp qword ptr [r12 + SN_SEGS], rax
    ja .Lsl_close
    xor ecx, ecx                          # made by a build of this layout?
3:  lea rax, [rip + sn_layout]
    mov rax, qword ptr [rax + rcx*8]
    cmp qword ptr [r12 + SN_LAYOUT + rcx*8], rax
    jne .Lsl_close
    inc ecx
    cmp ecx, SN_LAYOUT_N
    jb 3b
    mov rax, qword ptr [r12 + SN_SO_SIZE] # a power of two the table can have
    cmp rax, IX_SO_MAX
    ja .Lsl_close
    cmp rax, SO_INITIAL
    jb .Lsl_close
    lea rcx, [rax - 1]
    test rax, rcx
    jnz .Lsl_close
    mov rax, qword ptr [r12 + SN_NEXT]    # past bucket 0's dummy at least
    cmp rax, IX_NODES / IX_UNIT + 2
    jb .Lsl_close
    mov rcx, IX_UNITS_MAX
    cmp rax, rcx
    ja .Lsl_close
    mov rdi, qword ptr [r12 + SN_SEGS]    # the list
    inc rdi
    shl rdi, SNL_SHIFT
    mov qword ptr [rip + sn_list_cap], rdi
    call reserve_memory
    cmp rax, -4096
    ja .Lsl_close
    mov r13, rax
    mov qword ptr [rip + sn_list], rax
    mov rdx, qword ptr [r12 + SN_SEGS]
    shl rdx, SNL_SHIFT
    mov qword ptr [rsp], rdx              # its length
    mov edi, r15d
    mov rsi, r13
    mov ecx, SN_HEAD
    call pread_full
    cmp rax, qword ptr [rsp]
    jne .Lsl_close
    xor edi, edi                          # the CRC: the list as read (the walk
    mov rsi, r13                          # marks it), then the regions
    mov rdx, qword ptr [rsp]
    call crc32c
    mov dword ptr [rsp + 8], eax
    xor ecx, ecx                          # ids increasing, none past the last
    xor edx, edx                          # handed out
4:  cmp rcx, qword ptr [r12 + SN_SEGS]
    jae 5f
    mov rax, rcx
    shl rax, SNL_SHIFT
    mov r8, qword ptr [r13 + rax + SNL_ID]
    cmp r8, rdx
    jbe .Lsl_close
    cmp r8, qword ptr [r12 + SN_SEGID]
    ja .Lsl_close
    mov qword ptr [r13 + rax + SNL_SEEN], 0
    mov rdx, r8
    inc rcx
    jmp 4b
5:  mov qword ptr [rip + sn_seen], 0      # the directory holds exactly those?
    lea rdi, [rip + sn_entry]
    xor esi, esi
    call dir_walk
    cmp rax, SN_FOREIGN
    jne 1f
    mov r14d, 3                           # (not a mismatch to report: the segments'
1:  test rax, rax                         # reading says what it is)
    js .Lsl_close
    mov rax, qword ptr [rip + sn_seen]
    cmp rax, qword ptr [r12 + SN_SEGS]
    jne .Lsl_close
    mov r14d, 2                           # from here the index is written: a
    mov rbx, qword ptr [rsp]              # failure makes it fresh again
    add rbx, SN_HEAD                      # where the regions start in the file
    xor r13d, r13d                        # region
1:  cmp r13d, SN_REGIONS
    jae 2f
    mov edi, r13d
    mov rsi, r12
    call sn_region
    mov qword ptr [rsp], rdx
    mov rsi, rax
    add rsi, qword ptr [rip + ix_base]
    mov edi, r15d
    mov rcx, rbx
    call pread_full
    cmp rax, qword ptr [rsp]
    jne .Lsl_close
    add rbx, rax
    inc r13d
    jmp 1b
2:  mov edi, dword ptr [rsp + 8]
    mov rsi, r12
    call sn_regions_crc
    cmp eax, dword ptr [r12 + SN_CRC]
    jne .Lsl_close
    mov rax, qword ptr [rip + ix_base]    # and what the index says of itself is
    mov rcx, qword ptr [rax + IX_SEGID]   # what the header said (the regions'
    cmp rcx, qword ptr [r12 + SN_SEGID]   # lengths came from it)
    jne .Lsl_close
    mov rcx, qword ptr [rax + IX_NEXT]
    cmp rcx, qword ptr [r12 + SN_NEXT]
    jne .Lsl_close
    mov rcx, qword ptr [rax + IX_SO_SIZE]
    cmp rcx, qword ptr [r12 + SN_SO_SIZE]
    jne .Lsl_close
    cmp dword ptr [rax + IX_TAINTED], 0
    jne .Lsl_close
    mov r14d, 1                           # it checks out: what was a process's
    mov rax, qword ptr [rip + ix_base]    # own is no one's now
    lea rdi, [rax + IX_ACTIVE]
    lea rcx, [rax + IX_SO_COUNT]
3:  mov qword ptr [rdi], 0                # IX_ACTIVE, IX_FLIGHT_HI
    add rdi, 8
    cmp rdi, rcx
    jb 3b
    mov dword ptr [rax + IX_LOAD_FAILED], 0
    mov qword ptr [rax + IX_RECLAIM + RC_BK_HOLD], 0   # (no backup runs)
    lea rdi, [rax + IX_RECLAIM + RC_SLOTS]
    mov ecx, MAX_CHILDREN
    xor edx, edx
4:  mov qword ptr [rdi + rdx*8], 0
    inc edx
    cmp edx, ecx
    jb 4b
    mov rcx, qword ptr [r12 + SN_SEGID]
5:  test rcx, rcx                         # (no record is being written)
    jz .Lsl_close
    mov rdx, rcx
    shl rdx, SG_SHIFT
    mov dword ptr [rax + rdx + IX_SEGS + SG_BUSY], 0
    dec rcx
    jmp 5b
.Lsl_close:
    mov edi, r15d
    mov eax, SYS_close
    syscall
    call sn_unmap
.Lsl_reject:
    cmp r14d, 1
    je 6f
    cmp r14d, 3
    je 7f
    mov byte ptr [rip + sn_stale], 1      # said once the segments are read: a start
    cmp r14d, 2                           # that stops says only why (a half-read
                                          # index is made fresh)
    jne 7f
    mov rdi, qword ptr [rip + ix_base]
    mov rsi, IX_MAP_SIZE
    mov eax, SYS_munmap
    syscall
    mov edi, dword ptr [rip + ix_fd]
    mov eax, SYS_close
    syscall
    call index_init
    test rax, rax
    js .Lsl_no_index
7:  xor r14d, r14d                        # (kept until the start's checks pass:
    jmp .Lsl_out                          # snapshot_drop)
6:  lea rdi, [rip + msg_snap_read]
    mov esi, OFFSET msg_snap_read_len
    xor edx, edx
    xor ecx, ecx
    call log_line
    call snapshot_drop                    # gone before any write
.Lsl_out:
    mov eax, r14d
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lsl_fatal:
    mov ecx, eax
    neg ecx
    lea rdi, [rip + err_snap_remove]
    mov esi, OFFSET err_snap_remove_len
    xor edx, edx
    call fatal
.Lsl_no_index:
    mov ecx, eax
    neg ecx
    lea rdi, [rip + err_snap_index]
    mov esi, OFFSET err_snap_index_len
    xor edx, edx
    call fatal

# snapshot_drop: (master) removes ".asmkv-index", if it is there, durably
# whatever --sync says: once anything is written, an image of before must
# never be read (a crash would make it look like the store). Exits with a
# clear message if it cannot. Clobbers the caller-saved registers.
.globl snapshot_drop
snapshot_drop:
    sub rsp, 8
    cmp byte ptr [rip + sn_stale], 0
    je 2f
    mov byte ptr [rip + sn_stale], 0
    lea rdi, [rip + msg_snap_stale]
    mov esi, OFFSET msg_snap_stale_len
    xor edx, edx
    xor ecx, ecx
    call log_line
2:  mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + snap_name]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    cmp rax, -ENOENT
    je 1f
    test rax, rax
    js .Lsl_fatal
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js .Lsl_fatal
1:  add rsp, 8
    ret

# sn_entry: a dir_walk callback, rdi = an entry's name. Anything but our own
# entries (import_kind) is not the image's store; a segment must be in the
# image's list (sn_list, by increasing id) with the length and last change
# listed; counts it (sn_seen). Returns rax = 0, or -1 to stop the walk (not the image's).
# Clobbers the caller-saved registers.
sn_entry:
    push rbx
    push r12
    sub rsp, STAT_SIZE + 8
    mov r12, rdi
    call import_kind                      # only our own entries: a value of the
    test eax, eax                         # old layout or anything foreign is for
    mov rax, SN_FOREIGN                   # the start that reads the segments to see
    jnz 7f
    mov rdi, r12
    call cstr_len
    cmp rax, 5
    jb 8f
    cmp dword ptr [r12 + rax - 4], 0x6765732e   # ".seg"
    jne 8f
    mov rdi, r12
    lea rsi, [rax - 4]
    call parse_seg_id
    test rax, rax
    jz 9f
    mov rcx, qword ptr [rip + sn_list]    # find it (binary search)
    xor r8d, r8d                          # low
    mov r9, qword ptr [rip + sn_head]     # high (exclusive): the entries listed
    mov r9, qword ptr [r9 + SN_SEGS]
1:  cmp r8, r9
    jae 9f
    lea r10, [r8 + r9]
    shr r10, 1
    mov r11, r10
    shl r11, SNL_SHIFT
    cmp qword ptr [rcx + r11 + SNL_ID], rax
    je 2f
    jb 3f
    mov r9, r10
    jmp 1b
3:  lea r8, [r10 + 1]
    jmp 1b
2:  lea rbx, [rcx + r11]                 # its entry
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, r12
    mov rdx, rsp
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    test rax, rax
    js 9f
    mov rax, qword ptr [rsp + ST_SIZE]
    cmp rax, qword ptr [rbx + SNL_SIZE]
    jne 9f
    mov rax, qword ptr [rsp + ST_MTIME]
    cmp rax, qword ptr [rbx + SNL_MTIME]
    jne 9f
    mov rax, qword ptr [rsp + ST_MTIME + 8]
    cmp rax, qword ptr [rbx + SNL_MTIME + 8]
    jne 9f
    mov rax, qword ptr [rsp + ST_CTIME]
    cmp rax, qword ptr [rbx + SNL_CTIME]
    jne 9f
    mov rax, qword ptr [rsp + ST_CTIME + 8]
    cmp rax, qword ptr [rbx + SNL_CTIME + 8]
    jne 9f
    mov rax, qword ptr [rsp + ST_INO]
    cmp rax, qword ptr [rbx + SNL_INO]
    jne 9f
    cmp qword ptr [rbx + SNL_SEEN], 0     # a second name for it ("07.seg")
    jne 9f
    mov qword ptr [rbx + SNL_SEEN], 1
    inc qword ptr [rip + sn_seen]
8:  xor eax, eax
    jmp 7f
9:  mov rax, -1
7:  add rsp, STAT_SIZE + 8
    pop r12
    pop rbx
    ret

.section .rodata
.p2align 3
sn_layout:                                # what an image's offsets mean (SN_LAYOUT)
    .quad IX_SEGS, IX_RECLAIM, IX_BUCKETS, IX_NODES, SG_SIZE, MAX_CHILDREN, SEG_ID_MAX
    .quad SNAP_FORMAT | (N_KEY << 16) | (IX_UNIT << 32) | (SL_LEVELS << 48)
.globl snap_name
snap_name:       .asciz ".asmkv-index"
snap_tmp:        .asciz ".tmp-index"
msg_snap_saved:  .ascii "index saved (.asmkv-index): the next start reads it instead of the segments"
.equ msg_snap_saved_len, . - msg_snap_saved
msg_snap_free:   .ascii "index not saved: its node memory is mostly free (the next start reads the segments, and takes only what the keys need)"
.equ msg_snap_free_len, . - msg_snap_free
msg_snap_tainted: .ascii "index not saved: a write failed after its record was counted (the next start reads the segments)"
.equ msg_snap_tainted_len, . - msg_snap_tainted
msg_snap_read:   .ascii "index read from .asmkv-index"
.equ msg_snap_read_len, . - msg_snap_read
msg_snap_stale:  .ascii ".asmkv-index did not match the segments or itself; the segments were read"
.equ msg_snap_stale_len, . - msg_snap_stale
err_snap_save:   .ascii "cannot save the index (the next start reads the segments)"
.equ err_snap_save_len, . - err_snap_save
err_snap_remove: .ascii "cannot remove .asmkv-index"
.equ err_snap_remove_len, . - err_snap_remove
err_snap_index:  .ascii "cannot make the index again after .asmkv-index"
.equ err_snap_index_len, . - err_snap_index

.bss
.p2align 3
sn_head:   .space 8                       # the image's header, as read (snapshot_load)
sn_list:   .space 8                       # the image's list of segments
sn_list_cap: .space 8                     #   its mapping's length
sn_seen:   .space 8                       #   of those, found in the directory
sn_stale:  .space 1                       # 1: an image was there and not believed
.text
