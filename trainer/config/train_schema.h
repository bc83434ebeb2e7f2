// The schema of `wemask train` configs: every key, its type, default, range and doc.
#pragma once
#include "trainer/config/schema.h"

namespace wm::config {

const Schema& sft_schema();

}  // namespace wm::config
