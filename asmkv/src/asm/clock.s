# clock.s - time: the worker's one-second tick, the Date header, deadlines.
#
# Each worker has a timerfd that fires at every whole second of the real-time
# clock. On each tick it refreshes w_date (the IMF-fixdate every response
# carries, so no response pays for a clock syscall) and w_now (monotonic
# seconds, which deadlines are measured in, immune to clock changes).
.text

# clock_start: creates and arms the tick timer and sets w_date and w_now.
# Returns rax = the timerfd, or -errno. Clobbers the caller-saved registers.
.globl clock_start
clock_start:
    push rbx
    sub rsp, 48                           # struct itimerspec at [rsp], timespec at [rsp+32]
    mov edi, CLOCK_REALTIME
    mov esi, TFD_NONBLOCK | TFD_CLOEXEC
    mov eax, SYS_timerfd_create
    syscall
    test rax, rax
    js 1f
    mov ebx, eax
    call clock_tick                       # fills w_date, w_now; rax = real seconds
    inc rax                               # first expiry: the next whole second
    mov qword ptr [rsp], 1                # it_interval = 1 s
    mov qword ptr [rsp + 8], 0
    mov qword ptr [rsp + 16], rax         # it_value, absolute
    mov qword ptr [rsp + 24], 0
    mov edi, ebx
    mov esi, TFD_TIMER_ABSTIME
    mov rdx, rsp
    xor r10d, r10d
    mov eax, SYS_timerfd_settime
    syscall
    test rax, rax
    js 1f
    mov eax, ebx
1:  add rsp, 48
    pop rbx
    ret

# clock_tick: reads both clocks; stores w_now and formats w_date.
# Returns rax = real-time seconds since the epoch. Clobbers the caller-saved registers.
.globl clock_tick
clock_tick:
    push rbx
    sub rsp, 16
    mov edi, CLOCK_MONOTONIC
    mov rsi, rsp
    call clock_now                        # cannot fail with a valid clock and buffer
    mov rax, qword ptr [rsp]
    mov qword ptr [rip + w_now], rax
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    call clock_now
    mov rbx, qword ptr [rsp]
    mov qword ptr [rip + w_unix], rbx
    lea rdi, [rip + w_date]
    mov rsi, rbx
    call format_date
    mov rax, rbx
    add rsp, 16
    pop rbx
    ret

# format_date: rdi = destination (DATE_LEN bytes), rsi = seconds since the epoch
# (>= 0). Writes the IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7),
# using the proleptic Gregorian calendar (days-to-civil, era arithmetic).
# Clobbers rax, rcx, rdx, rsi, r8-r11.
.globl format_date
format_date:
    push rbx
    push r12
    mov r8, rdi
    mov rax, rsi
    xor edx, edx
    mov ecx, 86400
    div rcx
    mov r9, rdx                           # seconds into the day
    mov r10, rax                          # days since 1970-01-01
    # weekday: 1970-01-01 was a Thursday
    lea rax, [r10 + 4]
    xor edx, edx
    mov ecx, 7
    div rcx
    lea rcx, [rip + day_names]
    mov eax, dword ptr [rcx + rdx*4]
    mov dword ptr [r8], eax               # "Thu,"
    mov byte ptr [r8 + 4], ' '
    # civil date from days
    lea rax, [r10 + 719468]               # days since 0000-03-01
    xor edx, edx
    mov ecx, 146097
    div rcx                               # rax = era, rdx = day of era
    mov r11, rax
    mov rbx, rdx                          # doe
    mov rax, rbx                          # yoe = (doe - doe/1460 + doe/36524 - doe/146096) / 365
    xor edx, edx
    mov ecx, 1460
    div rcx
    mov r12, rbx
    sub r12, rax
    mov rax, rbx
    xor edx, edx
    mov ecx, 36524
    div rcx
    add r12, rax
    mov rax, rbx
    xor edx, edx
    mov ecx, 146096
    div rcx
    sub r12, rax
    mov rax, r12
    xor edx, edx
    mov ecx, 365
    div rcx
    mov r12, rax                          # yoe
    imul r11, r11, 400
    add r11, r12                          # year (of a March-based year)
    imul rax, r12, 365                    # doy = doe - (365*yoe + yoe/4 - yoe/100)
    mov rcx, r12
    shr rcx, 2
    add rax, rcx
    mov rcx, r12
    push rax
    mov rax, rcx
    xor edx, edx
    mov ecx, 100
    div rcx
    mov rcx, rax
    pop rax
    sub rax, rcx
    sub rbx, rax                          # rbx = doy
    imul rax, rbx, 5                      # mp = (5*doy + 2) / 153
    add rax, 2
    xor edx, edx
    mov ecx, 153
    div rcx
    mov r12, rax                          # mp
    imul rax, r12, 153                    # day = doy - (153*mp + 2)/5 + 1
    add rax, 2
    xor edx, edx
    mov ecx, 5
    div rcx
    sub rbx, rax
    inc rbx                               # day of month
    lea rax, [r12 + 3]                    # month index 0..11 from January: mp < 10 ? mp+2 : mp-10
    cmp r12, 10
    jb 2f
    sub rax, 12
    inc r11                               # January and February belong to the next year
2:  sub rax, 1                            # 0-based month
    lea rcx, [rip + month_names]
    mov ecx, dword ptr [rcx + rax*4]
    mov dword ptr [r8 + 7], ecx           # " Nov"
    mov byte ptr [r8 + 11], ' '
    lea rdi, [r8 + 5]
    mov rax, rbx
    call put_2digits
    mov rax, r11                          # year: 4 digits
    xor edx, edx
    mov ecx, 100
    div rcx
    mov rbx, rdx
    lea rdi, [r8 + 12]
    call put_2digits
    mov rax, rbx
    lea rdi, [r8 + 14]
    call put_2digits
    mov byte ptr [r8 + 16], ' '
    mov rax, r9                           # hh:mm:ss
    xor edx, edx
    mov ecx, 3600
    div rcx
    mov rbx, rdx
    lea rdi, [r8 + 17]
    call put_2digits
    mov byte ptr [r8 + 19], ':'
    mov rax, rbx
    xor edx, edx
    mov ecx, 60
    div rcx
    mov rbx, rdx
    lea rdi, [r8 + 20]
    call put_2digits
    mov byte ptr [r8 + 22], ':'
    mov rax, rbx
    lea rdi, [r8 + 23]
    call put_2digits
    mov dword ptr [r8 + 25], 0x544d4720   # " GMT"
    pop r12
    pop rbx
    ret

# parse_http_date: rdi = a field value, rsi = its length. Parses an HTTP-date
# in any of its three forms (RFC 9110 5.6.7 - a recipient must accept all):
#   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
#   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year more
#                than 50 years ahead is in the past century)
#   asctime      "Sun Nov  6 08:49:37 1994"
# Day and month names are case-sensitive. Returns rax = Unix seconds (signed),
# carry clear; carry set if the value is not one of these.
# Clobbers the caller-saved registers.
.globl parse_http_date
parse_http_date:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    cmp r12, 29
    je .Lpd_imf
    cmp r12, 24
    je .Lpd_asctime
    # RFC 850: a long day name, ", ", then 22 bytes
    cmp r12, 30
    jb .Lpd_bad
    cmp r12, 33
    ja .Lpd_bad
    lea rcx, [r12 - 24]                   # the day name's length
    lea rdi, [rip + long_day_names]
1:  movzx edx, byte ptr [rdi]             # each: length, name
    test edx, edx
    jz .Lpd_bad
    cmp rdx, rcx
    jne 2f
    xor r8d, r8d
3:  movzx eax, byte ptr [rbx + r8]
    cmp al, byte ptr [rdi + r8 + 1]
    jne 2f
    inc r8
    cmp r8, rcx
    jb 3b
    jmp 4f
2:  lea rdi, [rdi + rdx + 1]
    jmp 1b
4:  add rbx, rcx                          # ", DD-Mon-YY HH:MM:SS GMT"
    cmp word ptr [rbx], 0x202c            # ", "
    jne .Lpd_bad
    cmp byte ptr [rbx + 4], '-'
    jne .Lpd_bad
    cmp byte ptr [rbx + 8], '-'
    jne .Lpd_bad
    cmp byte ptr [rbx + 11], ' '
    jne .Lpd_bad
    cmp dword ptr [rbx + 20], 0x544d4720  # " GMT"
    jne .Lpd_bad
    lea rdi, [rbx + 2]
    call .Lpd_2digits
    jc .Lpd_bad
    mov r13d, eax                         # day
    lea rdi, [rbx + 5]
    call .Lpd_month
    jc .Lpd_bad
    mov r14d, eax
    lea rdi, [rbx + 9]
    call .Lpd_2digits
    jc .Lpd_bad
    lea r15, [rax + 2000]
    mov rax, qword ptr [rip + w_unix]     # more than 50 years ahead: a century back
    xor edx, edx
    mov ecx, 31556952                     # seconds in a mean Gregorian year
    div rcx
    add rax, 1970 + 50
    cmp r15, rax
    jbe 5f
    sub r15, 100
5:  lea rdi, [rbx + 12]
    jmp .Lpd_time
.Lpd_imf:
    lea rdi, [rip + day_names]            # "Sun," ... 4 bytes each
    mov eax, dword ptr [rbx]
    xor ecx, ecx
1:  cmp eax, dword ptr [rdi + rcx*4]
    je 2f
    inc ecx
    cmp ecx, 7
    jb 1b
    jmp .Lpd_bad
2:  cmp byte ptr [rbx + 4], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 7], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 11], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 16], ' '
    jne .Lpd_bad
    cmp dword ptr [rbx + 25], 0x544d4720  # " GMT"
    jne .Lpd_bad
    lea rdi, [rbx + 5]
    call .Lpd_2digits
    jc .Lpd_bad
    mov r13d, eax
    lea rdi, [rbx + 8]
    call .Lpd_month
    jc .Lpd_bad
    mov r14d, eax
    lea rdi, [rbx + 12]
    call .Lpd_year
    jc .Lpd_bad
    mov r15, rax
    lea rdi, [rbx + 17]
    jmp .Lpd_time
.Lpd_asctime:
    lea rdi, [rip + day_names]
    mov eax, dword ptr [rbx]
    and eax, 0xffffff
    xor ecx, ecx
1:  mov edx, dword ptr [rdi + rcx*4]
    and edx, 0xffffff
    cmp eax, edx
    je 2f
    inc ecx
    cmp ecx, 7
    jb 1b
    jmp .Lpd_bad
2:  cmp byte ptr [rbx + 3], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 7], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 10], ' '
    jne .Lpd_bad
    cmp byte ptr [rbx + 19], ' '
    jne .Lpd_bad
    lea rdi, [rbx + 4]
    call .Lpd_month
    jc .Lpd_bad
    mov r14d, eax
    cmp byte ptr [rbx + 8], ' '           # "  6" or " 16"
    jne 3f
    movzx eax, byte ptr [rbx + 9]
    sub eax, '0'
    cmp eax, 9
    ja .Lpd_bad
    jmp 4f
3:  lea rdi, [rbx + 8]
    call .Lpd_2digits
    jc .Lpd_bad
4:  mov r13d, eax
    lea rdi, [rbx + 20]
    call .Lpd_year
    jc .Lpd_bad
    mov r15, rax
    lea rdi, [rbx + 11]
# .Lpd_time: rdi = "HH:MM:SS"; r13 = day, r14 = month, r15 = year.
.Lpd_time:
    cmp byte ptr [rdi + 2], ':'
    jne .Lpd_bad
    cmp byte ptr [rdi + 5], ':'
    jne .Lpd_bad
    mov rbx, rdi
    call .Lpd_2digits
    jc .Lpd_bad
    cmp eax, 23
    ja .Lpd_bad
    imul r12d, eax, 3600
    lea rdi, [rbx + 3]
    call .Lpd_2digits
    jc .Lpd_bad
    cmp eax, 59
    ja .Lpd_bad
    imul eax, eax, 60
    add r12d, eax
    lea rdi, [rbx + 6]
    call .Lpd_2digits
    jc .Lpd_bad
    cmp eax, 60                           # a leap second
    ja .Lpd_bad
    add r12d, eax
    lea eax, [r13 - 1]
    cmp eax, 30
    ja .Lpd_bad
    test r15, r15
    jz .Lpd_bad
    # days from civil: March-based years, 400-year eras (as format_date)
    mov rax, r15
    cmp r14d, 2
    ja 5f
    dec rax
5:  xor edx, edx
    mov ecx, 400
    div rcx                               # rax = era, rdx = year of era
    mov r8, rax
    mov r9, rdx
    lea eax, [r14 + 9]                    # month from March: m > 2 ? m-3 : m+9
    cmp r14d, 2
    jbe 6f
    lea eax, [r14 - 3]
6:  imul eax, eax, 153
    add eax, 2
    xor edx, edx
    mov ecx, 5
    div ecx
    lea r10, [rax + r13 - 1]              # day of the year
    imul rax, r9, 365                     # day of the era
    mov rcx, r9
    shr rcx, 2
    add rax, rcx
    mov rcx, rax
    mov rax, r9
    xor edx, edx
    mov r11d, 100
    div r11
    sub rcx, rax
    add rcx, r10
    imul rax, r8, 146097
    add rax, rcx
    sub rax, 719468                       # days since 1970-01-01
    imul rax, rax, 86400
    add rax, r12
    clc
    jmp .Lpd_out
.Lpd_bad:
    stc
.Lpd_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# .Lpd_2digits: rdi = two decimal digits. Returns eax, carry set if not digits.
# Clobbers ecx.
.Lpd_2digits:
    movzx eax, byte ptr [rdi]
    sub eax, '0'
    cmp eax, 9
    ja 1f
    movzx ecx, byte ptr [rdi + 1]
    sub ecx, '0'
    cmp ecx, 9
    ja 1f
    imul eax, eax, 10
    add eax, ecx
    clc
    ret
1:  stc
    ret
# .Lpd_year: rdi = four decimal digits. Returns rax, carry as .Lpd_2digits.
# Clobbers rcx, rdx.
.Lpd_year:
    call .Lpd_2digits
    jc 1f
    imul edx, eax, 100
    add rdi, 2
    call .Lpd_2digits
    jc 1f
    add eax, edx
    clc
1:  ret
# .Lpd_month: rdi = a month's three letters. Returns eax = 1..12, carry set if
# none. Clobbers rcx, rdx.
.Lpd_month:
    movzx eax, word ptr [rdi]
    movzx edx, byte ptr [rdi + 2]
    shl edx, 16
    or eax, edx
    shl eax, 8
    or eax, ' '                           # as in month_names: " Jan"
    lea rdx, [rip + month_names]
    xor ecx, ecx
1:  cmp eax, dword ptr [rdx + rcx*4]
    je 2f
    inc ecx
    cmp ecx, 12
    jb 1b
    stc
    ret
2:  lea eax, [rcx + 1]
    clc
    ret

# put_2digits: rdi = destination, rax = 0..99. Writes two decimal digits.
# Clobbers rax, rcx, rdx.
put_2digits:
    xor edx, edx
    mov ecx, 10
    div rcx
    add al, '0'
    add dl, '0'
    mov byte ptr [rdi], al
    mov byte ptr [rdi + 1], dl
    ret

.section .rodata
day_names:   .ascii "Sun,Mon,Tue,Wed,Thu,Fri,Sat,"
month_names: .ascii " Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
long_day_names:                           # each: length, name; 0 ends
    .byte 6
    .ascii "Monday"
    .byte 7
    .ascii "Tuesday"
    .byte 9
    .ascii "Wednesday"
    .byte 8
    .ascii "Thursday"
    .byte 6
    .ascii "Friday"
    .byte 8
    .ascii "Saturday"
    .byte 6
    .ascii "Sunday"
    .byte 0

.bss
.p2align 3
.globl w_now, w_date, w_unix
w_unix: .space 8                  # real seconds since the epoch, as of the last tick
w_now:  .space 8                  # monotonic seconds, as of the last tick
w_date: .space 32                 # "Date: " value, DATE_LEN bytes
.text
