/* Prices houses on the board through houseprice_model.h, as exported. Reads rows of
 * HOUSEPRICE_N_FEATURES from houses.bin on the host (semihosting): float32, or Q16.16 int32 for
 * an integer export (its header defines HOUSEPRICE_Q16; then only houseprice_predict_q16 is
 * called, and no floating-point routine is linked). Writes per house its price, return code,
 * SysTick ticks for the call and the stack the call used to results.bin;
 * then one summary line on stdout. The ticks count the processor clock; under
 * qemu -icount shift=0 one instruction takes one nanosecond, so instructions = ticks *
 * 1e9 / clock (a calibration loop of known length is timed too, to check that). */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "houseprice_model.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define PAINT 0xC5C5C5C5u
#define CALIBRATION_LOOPS 10000u

extern uint32_t _stack_limit;

#ifdef HOUSEPRICE_Q16
typedef int32_t value;
#define PREDICT houseprice_predict_q16
#else
typedef float value;
#define PREDICT houseprice_predict
#endif

struct result {
    value price;
    int32_t code;
    uint32_t ticks;
    uint32_t stack;
};

static uint32_t now(void)
{
    return SYST_CVR;
}

static uint32_t since(uint32_t start)
{
    return (start - SYST_CVR) & 0xFFFFFFu; /* a 24-bit down counter */
}

/* Bytes of stack houseprice_predict uses: paint below this frame, call, find the deepest
 * word it changed. (volatile: a loop the compiler turned into a memset call would paint over
 * memset's own frame.) */
__attribute__((noinline)) static uint32_t stack_used(const value *features, value *price)
{
    uint32_t sp;
    volatile uint32_t *word;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (word = &_stack_limit; word < (volatile uint32_t *)sp; ++word) {
        *word = PAINT;
    }
    (void)PREDICT(features, price);
    for (word = &_stack_limit; word < (volatile uint32_t *)sp && *word == PAINT; ++word) {
    }
    return sp - (uint32_t)word;
}

/* 2 instructions a loop: subs, bne. */
__attribute__((noinline)) static uint32_t calibration_ticks(void)
{
    uint32_t loops = CALIBRATION_LOOPS, start = now();
    __asm volatile("1: subs %0, %0, #1\n\tbne 1b" : "+l"(loops) : : "cc");
    return since(start);
}

static void say(const char *text)
{
    const char *end = text;
    while (*end) {
        ++end;
    }
    (void)write(1, text, (size_t)(end - text));
}

static void say_number(uint32_t value)
{
    char digits[11], *at = digits + sizeof digits - 1;
    *at = 0;
    do {
        *--at = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    say(at);
}

int main(void)
{
    value features[HOUSEPRICE_N_FEATURES], scratch;
    struct result result;
    uint32_t houses = 0, start;
    int in = open("houses.bin", O_RDONLY), out = open("results.bin", O_WRONLY | O_CREAT | O_TRUNC);

    if (in < 0 || out < 0) {
        say("houseprice-mcu: cannot open houses.bin or results.bin\n");
        return 2;
    }
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enabled, processor clock, no interrupt */
    while (read(in, features, sizeof features) == (int)sizeof features) {
        result.price = 0;
        start = now();
        result.code = PREDICT(features, &result.price);
        result.ticks = since(start);
        result.stack = stack_used(features, &scratch);
        if (write(out, &result, sizeof result) != (int)sizeof result) {
            return 3;
        }
        ++houses;
    }
    close(out);
    say("houseprice-mcu: houses ");
    say_number(houses);
    say(" calibration-ticks ");
    say_number(calibration_ticks());
    say(" calibration-instructions ");
    say_number(2u * CALIBRATION_LOOPS);
    say("\n");
    return 0;
}
