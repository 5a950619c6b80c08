/*++
 * NAME
 *	fuzz-driver 3h
 * SUMMARY
 *	run a libFuzzer target without libFuzzer, as a TAP test
 * DESCRIPTION
 *	See fuzz-driver.c.
 *--*/
#ifndef ELEMTA_FUZZ_DRIVER_H
#define ELEMTA_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_driver_main(int argc, char **argv, const char *const *seeds,
		     size_t nseeds, const char *specials);
int fuzz_driver_dir(int argc, char **argv, const char *dir,
		    const char *specials);

#endif
