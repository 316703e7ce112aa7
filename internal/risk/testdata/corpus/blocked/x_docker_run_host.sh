docker run -v /:/host -it alpine chroot /host
