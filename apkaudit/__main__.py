from apkaudit.cli.main import main

main()
