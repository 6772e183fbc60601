// The claims experiments' tests (bench/test_exp_*.cpp) share this main.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
