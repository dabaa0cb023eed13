from apkaudit.cli import main

main()
