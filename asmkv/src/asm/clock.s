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
    mov eax, SYS_clock_gettime            # cannot fail with a valid clock and buffer
    syscall
    mov rax, qword ptr [rsp]
    mov qword ptr [rip + w_now], rax
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    mov eax, SYS_clock_gettime
    syscall
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

.bss
.p2align 3
.globl w_now, w_date, w_unix
w_unix: .space 8                  # real seconds since the epoch, as of the last tick
w_now:  .space 8                  # monotonic seconds, as of the last tick
w_date: .space 32                 # "Date: " value, DATE_LEN bytes
.text
