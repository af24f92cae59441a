#include "jsonschema/jsonschema.h"
#include "runner.h"

TEST(placeholder_compiles)
{
    ASSERT(1);
}
