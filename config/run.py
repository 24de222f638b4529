"""`make run`: the development server and one background worker, as two processes started together.

One Ctrl-C (or the end of either process) stops both. Production runs the web server and its workers as separate
services instead (README, "Background jobs")."""

import os
import signal
import subprocess
import sys
import time


def main(argv):
    address = argv[1] if len(argv) > 1 else "127.0.0.1:8000"
    python = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The schedule's due jobs (a missed day close...) are queued once at start; cron does it afterwards.
    subprocess.run([python, "manage.py", "enqueue_due"], env=env, check=False)
    children = [
        subprocess.Popen([python, "manage.py", "runserver", address], env=env),
        subprocess.Popen([python, "manage.py", "run_worker"], env=env),
    ]
    print(f"Web server pid {children[0].pid} on http://{address}/, worker pid {children[1].pid}. Ctrl-C stops both.")

    def stop(*_args):
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
