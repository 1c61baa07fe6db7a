// Firmware entry, first byte of the image (VMD_FIRMWARE_ENTRY_GPA). Every vCPU
// arrives here in 64-bit mode with RSP at its own stack top, RDI = vCPU id and
// RSI = boot info GPA (see guest_abi.h).
        .section .text.entry, "ax"
        .code64
        .globl _start
_start:
        cli
        cld
        xorl %ebp, %ebp
        andq $-16, %rsp
        call vmd_main
1:      cli
        hlt
        jmp 1b
        .section .note.GNU-stack, "", @progbits
