"""`manifest-template`: a commented tweeter.yaml guessed from a submission's files, every guess
marked, that validates, and that grades the submission it was written for."""

from __future__ import annotations

import shutil
import textwrap

import pytest
import yaml

from harness.cli import main
from harness.net.mode import hosts_unavailable
from tests.conftest import ROOT, SUBMISSIONS
from tests.submissions.variants import build


def template_of(folder, capsys) -> tuple[str, dict]:
    assert main(["manifest-template", str(folder), "-o", "-"]) == 0
    text = capsys.readouterr().out
    return text, yaml.safe_load(text) or {}


def test_hard_coded_addresses_and_ports_are_found(tmp_path, capsys, grade):
    folder = build("hardcoded_tracker", tmp_path)
    (folder / "tweeter.yaml").unlink()
    text, manifest = template_of(folder, capsys)
    assert manifest["network"] == {"tracker": {"ip": "10.120.70.106", "port": 8000}}
    assert manifest["launch"] == {"tracker": "python3 tracker.py", "user": "python3 user.py"}
    assert all("# guess:" in line for line in text.splitlines() if line.strip() and not line.startswith(("#", "launch:", "network:", "  tracker:", "commands:")))
    assert main(["manifest-template", str(folder)]) == 0
    assert main(["validate", str(folder)]) == 0
    if hosts_unavailable() is None:  # the guessed manifest drives the submission
        graded = grade(folder, specs=["register_new", "tweet_one_follower"], extra=("--network", "hosts"))
        assert graded.status == 0, graded.output


def test_a_makefile_and_its_targets_are_read(capsys):
    _, manifest = template_of(SUBMISSIONS / "cpp_makefile", capsys)
    assert manifest["build"] == "make"
    assert manifest["launch"] == {"tracker": "./build/tracker.out {tracker_port}",
                                  "user": "./build/user.out {tracker_ip} {tracker_port}"}
    assert manifest["commands"]["query"] == "query handles"


def test_java_and_argparse_launches(capsys):
    _, java = template_of(SUBMISSIONS / "java_javac", capsys)
    assert java["build"] == "javac -d classes *.java"
    assert java["launch"]["tracker"].endswith("-cp classes Tracker {tracker_port}")
    _, menu = template_of(ROOT / "student_submissions" / "menu_style", capsys)
    assert menu["launch"]["tracker"] == "python3 server.py --port {tracker_port}"
    assert menu["launch"]["user"] == "python3 client.py {tracker_ip} {tracker_port}"


def test_an_existing_manifest_is_kept_unless_forced(tmp_path, capsys):
    folder = tmp_path / "menu"
    shutil.copytree(ROOT / "student_submissions" / "menu_style", folder)
    before = (folder / "tweeter.yaml").read_text()
    assert main(["manifest-template", str(folder)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (folder / "tweeter.yaml").read_text() == before
    assert main(["manifest-template", str(folder), "--force"]) == 0
    assert (folder / "tweeter.yaml").read_text() != before


def submission(folder, files: dict[str, str]):
    """A purpose-built submission: `files` (name -> source) written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


PY_TRACKER = '''
    import socket
    import sys

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", int(sys.argv[1])))
    while True:
        data, sender = sock.recvfrom(2048)
'''
C_TRACKER = '''
    #include <arpa/inet.h>
    #include <stdlib.h>
    PORT_DECLARATION

    int main(void) {
        int sock = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in server = {0};
        server.sin_family = AF_INET;
        server.sin_port = htons(PORT_EXPRESSION);
        bind(sock, (struct sockaddr *)&server, sizeof server);
        char buffer[2048];
        while (1) {
            recvfrom(sock, buffer, sizeof buffer, 0, NULL, NULL);
        }
    }
'''
C_USER = '''
    #include <arpa/inet.h>
    #include <stdio.h>
    DECLARATIONS

    int main(int argc, char **argv) {
        struct sockaddr_in tracker = {0};
        ADDRESS
        char line[256];
        while (fgets(line, sizeof line, stdin)) {
            sendto(sock, line, strlen(line), 0, (struct sockaddr *)&tracker, sizeof tracker);
        }
    }
'''


def c_program(template: str, **parts: str) -> str:
    for name, text in parts.items():
        template = template.replace(name.upper(), text)
    return template


def test_a_relative_folder_is_named_by_its_real_name(tmp_path, capsys, monkeypatch):
    folder = submission(tmp_path / "group7", {"tracker.py": PY_TRACKER, "user.py": "x = input('cmd> ')\n"})
    (folder / "src").mkdir()
    heading = "# tweeter.yaml for group7: a starting point guessed from its files by tweeter-harness"
    monkeypatch.chdir(folder)
    assert template_of(".", capsys)[0].splitlines()[0] == heading
    monkeypatch.chdir(folder / "src")
    assert template_of("..", capsys)[0].splitlines()[0] == heading


@pytest.mark.parametrize("declaration, expression", [
    ("", 'atoi("46498")'),
    ("#define PORT 46498", "PORT"),
    ("#define TRACKER_PORT 46498", "TRACKER_PORT"),
    ("const int PORT = 46498;", "PORT"),
], ids=["atoi", "define", "define_tracker_port", "const_int"])
def test_c_ports_written_as_atoi_or_define_are_the_tracker_port(tmp_path, capsys, declaration, expression):
    folder = submission(tmp_path / "c_ports", {
        "tracker.c": c_program(C_TRACKER, port_declaration=declaration, port_expression=expression),
        "user.c": c_program(C_USER, declarations="", address=(
            "inet_pton(AF_INET, argv[1], &tracker.sin_addr);\n"
            "        tracker.sin_port = htons(atoi(argv[2]));")),
    })
    text, manifest = template_of(folder, capsys)
    assert [line for line in text.splitlines() if line.startswith(("  tracker:", "  user:", "network:", "    port:"))] == [
        "  tracker: ./tracker  # guess: tracker.c binds a socket and loops on receiving; reads no command-line argument; "
        "built by the build command",
        "  user: ./user {tracker_ip} {tracker_port}  # guess: user.c reads the keyboard; reads its arguments; "
        "built by the build command",
        "network:",
        "  tracker:",
        "    port: 46498  # guess: the tracker binds the port 46498",
    ]
    assert manifest["network"] == {"tracker": {"port": 46498}}


@pytest.mark.parametrize("language", ["python", "c"])
def test_a_user_that_takes_only_the_tracker_ip_is_launched_with_it_alone(tmp_path, capsys, language):
    if language == "python":
        files = {"tracker.py": PY_TRACKER, "user.py": '''
            import socket
            import sys

            TRACKER_PORT = 8000
            MY_PORT = 5001
            tracker_ip = sys.argv[1]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            while True:
                sock.sendto(input("> ").encode(), (tracker_ip, TRACKER_PORT))
        '''}
        launch = ["  tracker: python3 tracker.py {tracker_port}  # guess: tracker.py binds a socket and loops on "
                  "receiving; reads its arguments",
                  "  user: python3 user.py {tracker_ip}  # guess: user.py reads the keyboard; reads one argument: "
                  "the tracker's IP (the port is hard-coded)"]
        port = "    port: 8000  # guess: the user sends to the tracker's port 8000"
    else:
        files = {"tracker.c": c_program(C_TRACKER, port_declaration="", port_expression='atoi("46498")'),
                 "user.c": c_program(C_USER, declarations="#define SERVER_PORT 46498", address=(
                     "tracker.sin_addr.s_addr = inet_addr(argv[1]);\n"
                     "        tracker.sin_port = htons(SERVER_PORT);"))}
        launch = ["  tracker: ./tracker  # guess: tracker.c binds a socket and loops on receiving; reads no "
                  "command-line argument; built by the build command",
                  "  user: ./user {tracker_ip}  # guess: user.c reads the keyboard; reads one argument: the "
                  "tracker's IP (the port is hard-coded); built by the build command"]
        port = "    port: 46498  # guess: the tracker binds the port 46498"
    folder = submission(tmp_path / f"ip_only_{language}", files)
    text, manifest = template_of(folder, capsys)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith(("  tracker: ", "  user: "))] == launch
    assert lines[lines.index("network:"):lines.index("network:") + 3] == ["network:", "  tracker:", port]
    assert manifest["launch"]["user"].endswith(" {tracker_ip}")
    assert main(["manifest-template", str(folder)]) == 0
    assert main(["validate", str(folder)]) == 0


@pytest.mark.parametrize("language", ["python", "c"])
def test_dead_initial_values_are_not_taken_for_the_tracker_address(tmp_path, capsys, language):
    if language == "python":
        files = {"tracker.py": PY_TRACKER, "user.py": '''
            import sys

            tracker_ip = "0.0.0.0"
            ip = "127.0.0.1"
            host = ""
            server: str = "192.168.1.20"
            MY_IP = "10.0.0.7"


            def main():
                global tracker_ip, server
                tracker_ip = sys.argv[1]
                server = input("Server address: ")
                ip, port = server, 9000
                while True:
                    input("> ")
        '''}
        skipped = ("# not taken for the tracker's address: 10.0.0.7 (MY_IP: the user's own address); "
                   "192.168.1.20 (server is assigned again: a dead initial value)")
    else:
        files = {"tracker.c": c_program(C_TRACKER, port_declaration="", port_expression="atoi(argv[1])").replace(
                     "main(void)", "main(int argc, char **argv)"),
                 "user.c": c_program(C_USER, declarations=(
                     'char tracker_ip[16] = "10.1.1.1";\nconst char *local_ip = "10.0.0.7";\n'
                     'char host[16] = "127.0.0.1";'), address=(
                     "strcpy(tracker_ip, argv[1]);\n"
                     "        tracker.sin_addr.s_addr = inet_addr(tracker_ip);\n"
                     "        tracker.sin_port = htons(atoi(argv[2]));"))}
        skipped = ("# not taken for the tracker's address: 10.0.0.7 (local_ip: the user's own address); "
                   "10.1.1.1 (tracker_ip is assigned again: a dead initial value)")
    folder = submission(tmp_path / f"dead_{language}", files)
    text, manifest = template_of(folder, capsys)
    assert "network" not in manifest
    assert [line for line in text.splitlines() if "tracker's address" in line] == [skipped]


def test_an_address_really_used_as_the_tracker_s_is_pinned(tmp_path, capsys):
    folder = submission(tmp_path / "campus", {"tracker.py": PY_TRACKER.replace('""', '"10.120.70.106"'), "user.py": '''
        import socket
        import sys

        ip = "0.0.0.0"
        TRACKER_IP = "10.120.70.106"
        ip = sys.argv[1]
        while True:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(input("> ").encode(), (TRACKER_IP, 8000))
    '''})
    text, manifest = template_of(folder, capsys)
    assert "    ip: 10.120.70.106  # guess: the user hard-codes the address 10.120.70.106" in text.splitlines()
    assert manifest["network"] == {"tracker": {"ip": "10.120.70.106"}}
    (folder / "user.py").write_text("import sys\nip = sys.argv[1]\nwhile True:\n    input('> ')\n")
    text, manifest = template_of(folder, capsys)  # the tracker binds it: that is the tracker's address too
    assert "    ip: 10.120.70.106  # guess: the tracker hard-codes the address 10.120.70.106" in text.splitlines()


COMMAND_LOOPS = {
    "by_position": ('''
        def main():
            handle = input("Enter your handle: ")
            while True:
                ip = input("Your IP: ")
                if ip.count(".") == 3:
                    break
            while True:
                line = input("> ")
                if line == "follow":
                    target = input("Handle to follow: ")
    ''', '"^>"'),
    "by_wording": ('''
        def read_command():
            return input("Enter a command: ")


        def main():
            handle = input("Enter your handle: ")
            ip = input("Your IP: ")
            running = True
            while running:
                cmd = read_command()
                if cmd == "follow":
                    target = input("Handle to follow: ")
    ''', '"^Enter a command:"'),
    "both": ('''
        def main():
            handle = input("Enter your handle: ")
            ip = input("Your IP: ")
            while True:
                cmd = input("Enter a command: ")
                if cmd == "follow":
                    target = input("Handle to follow: ")
    ''', '"^Enter a command:"'),
}


@pytest.mark.parametrize("case", COMMAND_LOOPS)
def test_a_command_prompt_is_the_prompt_not_a_startup_answer(tmp_path, capsys, case):
    user, prompt = COMMAND_LOOPS[case]
    folder = submission(tmp_path / case, {"tracker.py": PY_TRACKER, "user.py": user})
    text, manifest = template_of(folder, capsys)
    lines = text.splitlines()
    start = lines.index("startup:")
    assert lines[start:start + 6] == [
        "startup:",
        "  user:",
        '    - {expect: "^Enter your handle:", send: "{handle}"}  # guess: asked before the command loop: answer it '
        "with what it asks for ({handle}, {ip}, {ports}, ...)",
        '    - {expect: "^Your IP:", send: "{handle}"}  # guess: asked before the command loop: answer it '
        "with what it asks for ({handle}, {ip}, {ports}, ...)",
        f"prompt: {prompt}  # guess: the user asks for each command with it: the harness awaits it before typing one",
        "# asked inside the command loop, a command's own questions (write them in commands: as {expect, send}): "
        "'Handle to follow: '",
    ]
    assert [step["expect"] for step in manifest["startup"]["user"]] == ["^Enter your handle:", "^Your IP:"]
    assert main(["manifest-template", str(folder)]) == 0
    assert main(["validate", str(folder)]) == 0
