################################################################################
#
# outpost
#
################################################################################

OUTPOST_VERSION = 0.1.0
OUTPOST_SITE = $(BR2_EXTERNAL_OUTPOST_PATH)/firmware
OUTPOST_SITE_METHOD = local
OUTPOST_LICENSE = GPL-2.0+
OUTPOST_LICENSE_FILES = COPYING
OUTPOST_SETUP_TYPE = setuptools

define OUTPOST_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(OUTPOST_PKGDIR)/S50outpost \
		$(TARGET_DIR)/etc/init.d/S50outpost
endef

$(eval $(python-package))
