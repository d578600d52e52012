"""Checks for chapter 3, Web Clients.

Each ``check_*`` function takes what the learner wrote, runs it against a fresh copy of the practice web site
(``servers.web``), reads the site's request log to see what the learner's client really sent, and shows a pass
or raises :class:`labkit.checks.CheckFailed`. Every wait is bounded. One module per part of the chapter;
``from labkit.chapters.ch03 import check_x`` finds them all.
"""

from labkit.chapters.ch03.asking import check_fetch_private, check_page_watcher, check_upload
from labkit.chapters.ch03.fetching import check_download_to_file, check_fetch_page
from labkit.chapters.ch03.progress import check_progress_writer
from labkit.chapters.ch03.trouble import check_diagnose, check_fetch_trusting

__all__ = ["check_diagnose", "check_download_to_file", "check_fetch_page", "check_fetch_private",
           "check_fetch_trusting", "check_page_watcher", "check_progress_writer", "check_upload"]
