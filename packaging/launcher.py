"""The frozen app's entry script (PyInstaller runs this as ``__main__``).

It is ``hark`` exactly as the console script: ``app.__main__.main``. ``freeze_support``
first, so a worker process started with multiprocessing's spawn method (the default on
Windows and macOS) runs its task instead of a second copy of the app.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()

    from app.__main__ import main

    sys.exit(main())
