/*
 * The version of this build (see acmeva/version.h). Only this file includes the generated
 * header, so that a new commit recompiles one file, not the tree.
 */
#include "acmeva/version.h"

#include <stdio.h>
#include <string.h>

#include "acmeva_version_gen.h"

const char *acmeva_version(void)
{
    return ACMEVA_VERSION;
}

int acmeva_version_option(const char *prog, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", prog, ACMEVA_VERSION);
            return 1;
        }
    }
    return 0;
}
