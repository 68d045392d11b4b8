# terraform apply -var-file=example.tfvars (a copy with your values)
project     = "my-project"
region      = "europe-west1"
environment = "prod"
# submitters            = ["group:data-eng@example.com"]
# notification_channels = ["projects/my-project/notificationChannels/1234567890"]
