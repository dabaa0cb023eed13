from apkaudit.cli.app import main

main()
