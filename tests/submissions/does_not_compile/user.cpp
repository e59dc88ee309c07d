// The user compiles, but without a tracker nothing can be graded.
#include <cstdio>

int main() {
    std::puts("user: waiting for commands");
    return 0;
}
