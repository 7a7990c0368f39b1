#include "config.h"
#include "rmens.h"

const char *rmens_version_string(void) { return PACKAGE_VERSION; }
