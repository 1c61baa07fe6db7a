// Interrupt and exception entry stubs, one per vector, each 16 bytes long so
// that stub v sits at isr_stubs + 16 * v. Each pushes a dummy error code when
// the CPU does not push one, then the vector, and joins isr_common, which
// saves the general registers as a struct trap_frame (descriptors.c) and
// calls vmd_trap(frame). The handler may change frame->rip (exception fix-up).
        .text
        .code64

// Vectors for which the CPU pushes an error code: #DF, #TS, #NP, #SS, #GP,
// #PF, #AC, #CP, #VC, #SX.
        .balign 16
        .globl isr_stubs
isr_stubs:
        vector = 0
        .rept 256
        .balign 16
        .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
        .else
        pushq $0
        .endif
        pushq $vector
        jmp isr_common
        vector = vector + 1
        .endr
        .balign 16  // each stub is at most 12 bytes: the .balign spaces them

isr_common:
        // Interrupt entry aligned RSP to 16 before pushing SS, RSP, RFLAGS,
        // CS, RIP; with error code and vector that is 7 words, so after the
        // 15 registers below RSP is 16-byte aligned again for the call.
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, %rdi
        cld
        call vmd_trap
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp  // vector and error code
        iretq
        .section .note.GNU-stack, "", @progbits
