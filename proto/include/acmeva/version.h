/*
 * The version of this build, for --version, the start log line, the acmeva_build_info metric
 * and the workerVersion field of results: `git describe --always --dirty` when the build ran in
 * a git checkout, else the project version of CMakeLists.txt.
 */
#ifndef ACMEVA_VERSION_H
#define ACMEVA_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* acmeva_version returns the version of this build (a static string of [A-Za-z0-9._+-]). */
const char *acmeva_version(void);

/*
 * acmeva_version_option handles --version for the program |prog|: when one of the |argc|
 * arguments is exactly "--version", it prints "<prog> <version>" on stdout and returns 1 (the
 * caller exits 0); otherwise it returns 0.
 */
int acmeva_version_option(const char *prog, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
