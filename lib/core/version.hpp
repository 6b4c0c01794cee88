// dlrun's version and the git revision it was built from (provenance in summaries and checkpoints).
#pragma once

#include <string>

namespace dlrun {

std::string version_string();  // "0.1.0+1a2b3c4d5e6f"

}  // namespace dlrun
