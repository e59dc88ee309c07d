// A tracker that never got as far as compiling: a missing semicolon and an undeclared name.
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    int port = argc > 1 ? std::atoi(argv[1]) : 0
    std::printf("tracker listening on %d\n", port);
    return serve(port);
}
