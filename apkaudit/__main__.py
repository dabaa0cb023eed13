from apkaudit.cli.collector import loading

with loading():  # click and the model: start-up objects, not garbage (cli/collector.py)
    from apkaudit.cli.main import main

main()
